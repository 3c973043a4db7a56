"""Photon conversions against independent numbers: the pair-production mean free path, the energy
sharing and the Kroll-Wada pair-mass spectrum against numerical integrals, and the samplers against
their densities."""

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from analysis_lib.core.constants import ALPHA_EM, mass_gev
from analysis_lib.core.errors import ParameterError
from analysis_lib.physics.conversions import (
    conversion_probability,
    energy_fraction_density,
    internal_conversion_density,
    internal_conversion_probability,
    sample_energy_fraction,
    sample_internal_conversion_mass,
)


def test_a_photon_converts_after_nine_sevenths_of_a_radiation_length_on_average():
    assert conversion_probability(9 / 7) == pytest.approx(1 - np.exp(-1), rel=1e-12)
    # a thin layer: 7/9 of its thickness, and a slanted path is longer by 1/sin(theta)
    assert conversion_probability(1e-6) == pytest.approx(7e-6 / 9, rel=1e-5)
    assert conversion_probability(0.01, sin_theta=0.5) == pytest.approx(conversion_probability(0.02), rel=1e-12)
    for bad in (-0.1, np.nan):
        with pytest.raises(ParameterError):
            conversion_probability(bad)
    with pytest.raises(ParameterError):
        conversion_probability(0.01, sin_theta=0.0)


def test_the_energy_sharing_is_a_density_and_its_sampler_follows_it():
    total, _ = quad(energy_fraction_density, 0, 1)
    assert total == pytest.approx(1.0, rel=1e-10)
    # the unnormalised integral of 1 - 4x(1-x)/3 is 7/9 (the pair-production factor)
    assert energy_fraction_density(0.5) * 7 / 9 == pytest.approx(1 - 1 / 3)
    assert energy_fraction_density(1.5) == 0.0
    x = sample_energy_fraction(np.random.default_rng(3), 200_000)
    assert len(x) == 200_000 and x.min() >= 0 and x.max() <= 1

    def cdf(v):
        return np.array([quad(energy_fraction_density, 0, t)[0] for t in np.atleast_1d(v)])

    assert stats.kstest(x[:20_000], cdf).pvalue > 1e-3
    assert x.mean() == pytest.approx(0.5, abs=3e-3)  # symmetric in x <-> 1 - x


@pytest.mark.parametrize("lepton, low, high", [(11, 0.0, 0.01), (11, 0.02, 1.0), (13, 0.0, 0.5), (13, 0.25, 3.0)])
def test_the_internal_conversion_probability_is_the_integral_of_its_density(lepton, low, high):
    threshold = 2 * mass_gev(lepton)
    start = max(low, threshold)
    numeric, _ = quad(lambda m: internal_conversion_density(m, lepton_pdgid=lepton), start, high, limit=400,
                      points=[start * 1.001, start * 1.1, start * 2])
    assert internal_conversion_probability(low, high, lepton_pdgid=lepton) == pytest.approx(numeric, rel=1e-6)


def test_far_above_threshold_the_pair_spectrum_is_two_alpha_over_three_pi_per_unit_log_mass():
    # m >> m_l: dP = (2 alpha / 3 pi) dm / m (the Kroll-Wada density without its threshold factors)
    assert internal_conversion_probability(1.0, np.e) == pytest.approx(2 * ALPHA_EM / (3 * np.pi), rel=1e-6)
    assert internal_conversion_density(0.001) == 0.0  # below 2 m_e
    with pytest.raises(ParameterError):
        internal_conversion_probability(0.1, 0.01)
    with pytest.raises(ParameterError):
        internal_conversion_density(0.1, lepton_pdgid=211)


def test_the_pi0_dalitz_decay_against_its_measured_rate():
    # pi0 -> e+e- gamma: both photons of pi0 -> gamma gamma may convert internally, with the decay's own
    # factor (1 - m^2 / m_pi0^2)^3; the measured ratio B(e+e- gamma) / B(gamma gamma) is
    # 1.174% / 98.823% (PDG, Prog. Theor. Exp. Phys. 2022 083C01), known to 3%
    m_pi, m_e = mass_gev(111), mass_gev(11)
    ratio, _ = quad(lambda m: 2 * internal_conversion_density(m) * (1 - m**2 / m_pi**2) ** 3, 2 * m_e, m_pi,
                    limit=400, points=[2.2 * m_e, 10 * m_e])
    assert ratio == pytest.approx(1.174 / 98.823, rel=0.03)


def test_the_pair_mass_sampler_follows_the_spectrum():
    m = sample_internal_conversion_mass(np.random.default_rng(5), 50_000, 0.02, 1.0)
    assert m.min() >= 0.02 and m.max() <= 1.0
    total = internal_conversion_probability(0.02, 1.0)
    assert stats.kstest(m, lambda v: internal_conversion_probability(0.02, np.clip(v, 0.02, 1.0)) / total).pvalue > 1e-3
    with pytest.raises(ParameterError):
        sample_internal_conversion_mass(np.random.default_rng(5), 10, 0.0, 0.001)
