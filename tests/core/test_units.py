"""How quantities with units are printed."""

import pytest

from analysis_lib.core.units import luminosity_label


@pytest.mark.parametrize(("luminosity_fb", "text"), [
    (0.445, "445 pb$^{-1}$"), (8.34, "8.34 fb$^{-1}$"), (424.2, "424.2 fb$^{-1}$"), (50000.0, "50 ab$^{-1}$"),
])
def test_luminosity_labels_keep_the_number_readable(luminosity_fb, text):
    assert luminosity_label(luminosity_fb) == text
