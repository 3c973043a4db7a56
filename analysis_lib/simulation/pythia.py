"""Hadronic final states from Pythia 8 (the ``pythia8mc`` package on PyPI).

Three uses, all returning the final-state particles as an awkward array (one list per event, fields
``id``, ``E``, ``px``, ``py``, ``pz`` in GeV and ``vx``, ``vy``, ``vz`` in mm, centre-of-mass frame
with the electron along +z; for the two processes also the production time ``vt`` in mm / c, so
that the vertices can be taken to the lab as four-vectors):

* :func:`continuum`: e+e- -> gamma*/Z -> q qbar with parton shower and string hadronisation, one quark
  flavour per call (the B factories' "continuum" background);
* :func:`lepton_pairs`: e+e- -> gamma*/Z -> mu+ mu- or tau+ tau- with QED radiation from the beams
  (the electron PDF and photon shower) and from the final state;
* :func:`decay`: generic decays of given particles (B mesons) with Pythia's decay tables, e.g. both
  B mesons of an Upsilon(4S) event, or the partner B of a signal decay.

Pythia is run in batches (``Pythia.nextBatch``, which returns awkward arrays), seeded from the
caller's numpy generator, so the same generator state gives the same events. Limitations, stated in
the chapters that use it: no initial-state radiation in the continuum (the lepton PDF is off there),
no tau spin correlations in :func:`lepton_pairs`, Pythia's own B decay
tables (partly inclusive) and no Upsilon(4S) resonance (its decay to B Bbar is done by the caller).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from ..core.errors import ParameterError

__all__ = ["FIELDS", "continuum", "decay", "lepton_pairs"]

#: Fields of a final-state particle.
FIELDS = ("id", "E", "px", "py", "pz", "vx", "vy", "vz")
#: Pythia's largest allowed seed.
_MAX_SEED = 900_000_000


#: The lower edge of the gamma*/Z mass window Pythia samples (23:mMin) is 10 GeV by default: no event
#: below sqrt(s) = 10 GeV (the BaBar data at and below the Upsilon(2S)). It is lowered to 95% of sqrt(s)
#: there, and kept at 10 GeV above (the same events as before at the Upsilon(4S)). With initial-state
#: radiation (lepton pairs) it is the lowest mass left after the photons: their energy fraction
#: x = 1 - m^2 / s stays below 0.10 (below 0.11 at 10.58 GeV): hard radiative returns are not in these samples.
def _gamma_z_window(sqrt_s_gev):
    return f"23:mMin = {min(10.0, 0.95 * float(sqrt_s_gev)):.6g}"


def _pythia(settings, rng):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    seed = int(rng.integers(1, _MAX_SEED))
    for line in (*settings, "Print:quiet = on", "Next:numberCount = 0", "Random:setSeed = on",
                 f"Random:seed = {seed}"):
        if not pythia.readString(line):
            raise ParameterError(f"Pythia refused the setting {line!r}")
    if not pythia.init():
        raise RuntimeError("Pythia failed to initialise; see its log above")
    return pythia


def _final_state(prt):
    """Final-state particles of a batch (status > 0), with the fields of :data:`FIELDS` and the
    production time ``vt`` (mm / c): the vertex is a four-vector the caller takes to the lab."""
    return _record(prt[prt.status > 0], time=True)


def _record(prt, *, time=False):
    """The fields of :data:`FIELDS` from Pythia's particle arrays (its vertex ``vProd`` is stored as
    a four-vector whose spatial components are named like a momentum's), and with ``time`` its time
    component ``vt``."""
    p, v = prt["p"], prt["vProd"]
    fields = {
        "id": prt["id"], "E": p["e"], "px": p["px"], "py": p["py"], "pz": p["pz"],
        "vx": ak.fill_none(v["px"], 0.0), "vy": ak.fill_none(v["py"], 0.0), "vz": ak.fill_none(v["pz"], 0.0),
    }
    if time:
        fields["vt"] = ak.fill_none(v["e"], 0.0)
    return ak.zip(fields, with_name=None)


def continuum(rng, n: int, *, sqrt_s_gev: float, flavour: int, batch: int = 20_000) -> ak.Array:
    """``n`` events e+e- -> q qbar of one quark ``flavour`` (1 d, 2 u, 3 s, 4 c, 5 b) at ``sqrt_s_gev``.

    Pythia's process WeakSingleBoson:ffbar2gmZ with the Z/gamma* forced to that flavour; only the
    event shapes are used, the normalisation comes from the caller's cross section.
    """
    if flavour not in (1, 2, 3, 4, 5):
        raise ParameterError(f"quark flavour {flavour!r} is not one of 1 (d), 2 (u), 3 (s), 4 (c), 5 (b)")
    if n < 0:
        raise ParameterError(f"number of events {n!r} must be >= 0")
    pythia = _pythia([
        "Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {sqrt_s_gev}", "PDF:lepton = off",
        "WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", f"23:onIfAny = {flavour}", _gamma_z_window(sqrt_s_gev),
    ], rng)
    return _batches(pythia, n, batch)


def _batches(pythia, n, batch):
    parts, done = [], 0
    while done < n:
        events = pythia.nextBatch(min(batch, n - done))
        parts.append(_final_state(events.prt))
        done += len(events)
    return ak.concatenate(parts) if parts else ak.Array([])


def lepton_pairs(rng, n: int, *, sqrt_s_gev: float, flavour: int, tau_channels=(), batch: int = 20_000) -> ak.Array:
    """``n`` events e+e- -> l+ l- (``flavour`` 13 or 15) with photon radiation, at ``sqrt_s_gev``.

    Pythia's process WeakSingleBoson:ffbar2ffbar(s:gmZ) with the electron's parton distribution on
    (PDF:lepton, so the beams lose energy to initial-state photons, which the photon shower makes
    explicit with transverse momentum) and final-state photon radiation off the leptons. Taus decay
    with Pythia's tables without spin correlations (TauDecays:mode = 0: the correlated decays cost
    about 6 ms per event here, against 10 us); ``tau_channels`` restricts them to the listed tau-
    decay channels (daughter ids of the tau-, e.g. ``"13 -14 16"``), both taus alike.
    """
    if flavour not in (13, 15):
        raise ParameterError(f"lepton flavour {flavour!r} is not 13 (muon) or 15 (tau)")
    if n < 0:
        raise ParameterError(f"number of events {n!r} must be >= 0")
    settings = ["Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {sqrt_s_gev}", "PDF:lepton = on",
                "WeakSingleBoson:ffbar2ffbar(s:gmZ) = on", "23:onMode = off", f"23:onIfAny = {flavour}",
                "TauDecays:mode = 0", _gamma_z_window(sqrt_s_gev)]
    if tau_channels:
        settings += ["15:onMode = off", *(f"15:onIfMatch = {channel}" for channel in tau_channels)]
    return _batches(_pythia(settings, rng), n, batch)


def decay(rng, pdgid, p4, *, per_record: int = 1000) -> ak.Array:
    """Generic decays of particles ``pdgid`` (n,) with four-momenta ``p4`` (n, 4) (E, px, py, pz in
    GeV): the final-state descendants of each, one list per particle, in the same frame.

    The particles are placed ``per_record`` at a time into one Pythia event record (hadron level
    only) and decayed together; each final-state particle is traced back through its mothers to
    the particle it came from. Where that tracing does not give a particle's descendants its four-
    momentum (gluonic decays, e.g. Upsilon -> g g g, sharing a record: a few per mille of them swap
    hadrons with another), the particle is decayed again alone in its record, where the tracing is
    exact; the other particles' decays are those of the shared records.
    """
    pdgid = np.asarray(pdgid, dtype=int)
    p4 = np.asarray(p4, dtype=float)
    if p4.shape != (len(pdgid), 4):
        raise ParameterError(f"p4 must have shape ({len(pdgid)}, 4), not {p4.shape}")
    pythia = _pythia(["ProcessLevel:all = off", "Check:event = off"], rng)
    masses = np.sqrt(np.clip(p4[:, 0] ** 2 - np.sum(p4[:, 1:] ** 2, axis=1), 0, None))
    products = _decay_records(pythia, pdgid, p4, masses, per_record)
    wrong = _not_conserved(products, p4)
    if wrong.size and per_record > 1:
        alone = _decay_records(pythia, pdgid[wrong], p4[wrong], masses[wrong], 1)
        still = _not_conserved(alone, p4[wrong])
        if still.size:
            raise RuntimeError(f"Pythia's decay of the particle {int(pdgid[wrong][still[0]])} does not conserve its "
                               "four-momentum even alone in its record: the record is not understood")
        index = np.arange(len(pdgid))
        index[wrong] = len(pdgid) + np.arange(wrong.size)
        products = ak.concatenate([products, alone])[index]
    return products


def _not_conserved(products, p4, tolerance_gev: float = 1e-6) -> np.ndarray:
    """The positions of the particles whose final-state descendants do not add up to their four-momentum."""
    if len(products) == 0:
        return np.zeros(0, dtype=int)
    sums = np.stack([ak.to_numpy(ak.sum(products[f], axis=1)) for f in ("E", "px", "py", "pz")], axis=1)
    return np.flatnonzero(np.abs(sums - p4).max(axis=1) > tolerance_gev)


def _decay_records(pythia, pdgid, p4, masses, per_record):
    """The final-state descendants of each particle, ``per_record`` particles to a record (:func:`decay`)."""
    data = pythia.particleData
    parts = []
    for start in range(0, len(pdgid), per_record):
        stop = min(start + per_record, len(pdgid))
        pythia.event.reset()
        for i in range(start, stop):
            if not data.isParticle(int(pdgid[i])):
                raise ParameterError(f"Pythia does not know the particle {pdgid[i]}")
            e, px, py, pz = p4[i]
            pythia.event.append(int(pdgid[i]), 1, 0, 0, px, py, pz, e, masses[i])
        prt = pythia.nextBatch(1).prt[0]
        n_parents = stop - start
        # trace every particle back to its parent (record index 1..n_parents)
        mother = np.asarray(prt.mother1)
        ancestor = np.arange(len(mother))
        for _ in range(200):
            deeper = ancestor > n_parents
            if not deeper.any():
                break
            ancestor = np.where(deeper, mother[ancestor], ancestor)
        else:
            raise RuntimeError("a decay chain deeper than 200 generations: the Pythia record is not understood")
        final = np.flatnonzero((np.asarray(prt.status) > 0) & (ancestor >= 1))
        order = final[np.argsort(ancestor[final], kind="stable")]
        counts = np.bincount(ancestor[order] - 1, minlength=n_parents)
        parts.append(ak.unflatten(ak.to_packed(_record(prt[order])), counts))
    return ak.concatenate(parts) if parts else ak.Array([])
