"""Units and how quantities with units are printed.

Conventions, stated once: energies and masses in GeV, lengths in mm, cross sections in pb,
integrated luminosities in fb^-1 (``luminosity_fb``); argument names carry their unit.
"""

from __future__ import annotations

__all__ = ["luminosity_label"]


def luminosity_label(luminosity_fb: float) -> str:
    """An integrated luminosity as figures print it, in the unit that keeps the number readable.

    Examples
    --------
    >>> luminosity_label(0.445), luminosity_label(79.7), luminosity_label(50000.0)
    ('445 pb$^{-1}$', '79.7 fb$^{-1}$', '50 ab$^{-1}$')
    """
    if luminosity_fb >= 1000:
        return f"{luminosity_fb / 1000:g} ab$^{{-1}}$"
    if luminosity_fb < 1:
        return f"{luminosity_fb * 1000:g} pb$^{{-1}}$"
    return f"{luminosity_fb:g} fb$^{{-1}}$"
