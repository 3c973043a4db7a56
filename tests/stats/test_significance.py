"""The look-elsewhere effect: Gross-Vitells against the maxima of random background-only scans."""

import numpy as np
import pytest

from analysis_lib.stats.significance import global_significance, upcrossings


def test_gross_vitells_against_random_scans():
    # background-only "scans": a smooth Gaussian random process (white noise convolved with a
    # Gaussian kernel, unit variance); q0 = max(Z, 0)^2. The Gross-Vitells tail probability with
    # <N(c0)> averaged over the scans must match the fraction of scans whose maximum exceeds c.
    rng = np.random.default_rng(5)
    n_scans, length, width = 4000, 400, 4.0
    kernel = np.exp(-0.5 * (np.arange(-20, 21) / width) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))
    noise = rng.normal(size=(n_scans, length + kernel.size - 1))
    z = np.array([np.convolve(row, kernel, mode="valid") for row in noise])
    q0 = np.clip(z, 0, None) ** 2
    mean_n = np.mean([upcrossings(row, 0.5) for row in q0])
    for c in (9.0, 12.0):
        empirical = np.mean(q0.max(axis=1) > c)
        gv = global_significance([0, 1], [0.0, np.sqrt(c)], mean_upcrossings=mean_n).global_p
        assert gv == pytest.approx(empirical, rel=0.2)  # binomial error about 10% at c = 12
