"""Device profiles: each board's capabilities against its specification, and every refusal."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.hw.profiles import PROFILES, SPEED_OF_LIGHT, ProfileError, profile
from isac_ae.impairments import quantise_adar1000

# name: (K, TX channels, RX channels, beamforming, pyadi-iio classes, full loop, ADC bits, DAC bits)
SPEC = {
    "phaser": (8, 1, 2, "analog", ("adi.CN0566", "adi.ad9361"), False, 12, 12),
    "pluto2": (2, 2, 2, "digital", ("adi.ad9361",), True, 12, 12),
    "fmcomms5": (4, 4, 4, "digital", ("adi.FMComms5",), True, 12, 12),
    "quadmxfe": (16, 16, 16, "digital", ("adi.QuadMxFE",), True, 12, 16),
}


def test_every_profile_is_specified_and_nothing_else():
    assert set(PROFILES) == set(SPEC)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_profile_capabilities(name):
    p = profile(name)
    k, tx, rx, beamforming, classes, loop, adc, dac = SPEC[name]
    assert (p.num_elements, p.tx_channels, p.rx_channels, p.beamforming) == (k, tx, rx, beamforming)
    assert (p.pyadi_classes, p.full_isac_loop, p.adc_bits, p.dac_bits) == (classes, loop, adc, dac)
    assert p.lo_range_hz[0] <= p.default_lo_hz <= p.lo_range_hz[1]
    assert p.default_sample_rate_hz > 0
    assert bool(p.loop_limit) != p.full_isac_loop
    m = p.magnitudes()
    assert m.gain_min == 0.75 and m.phase_std_deg is None
    assert m.coupling_db == (-25.0, -15.0) and m.channel_mismatch_db == pytest.approx(1.44)
    lo, hi = p.latency_samples
    assert 0 <= lo < hi and p.reference_ppm > 0 and p.dc_offset_dbfs < 0 and p.phase_drift_deg > 0


def test_phaser_specifics():
    p = profile("phaser")
    assert p.lo_range_hz == (10.0e9, 10.5e9)
    assert p.weight_phase_step_deg == 360 / 128 and p.weight_gain_codes == 128
    assert dict(p.element_map) == {"BEAM0": (7, 8, 5, 6), "BEAM1": (3, 4, 1, 2)}
    assert sorted(e for _, elements in p.element_map for e in elements) == list(range(1, p.num_elements + 1))
    # lambda/2 at 10.25 GHz is 14.6 mm, inside the 14-15 mm the board is reported to have.
    half_wavelength_mm = 1e3 * SPEED_OF_LIGHT / 10.25e9 / 2
    assert half_wavelength_mm == pytest.approx(14.6, abs=0.05)
    lo, hi = p.magnitudes().spacing_wavelengths
    assert lo < 0.5 < hi
    assert (lo, hi) == pytest.approx((0.014 * 10.25e9 / SPEED_OF_LIGHT, 0.015 * 10.25e9 / SPEED_OF_LIGHT))
    # At another LO the same millimetres are other fractions of a wavelength.
    assert p.magnitudes(10.0e9).spacing_wavelengths[1] == pytest.approx(0.015 * 10.0e9 / SPEED_OF_LIGHT)
    assert p.magnitudes().rx_channels == 2


def test_digital_boards_keep_the_nominal_spacing():
    for name in ("pluto2", "fmcomms5", "quadmxfe"):
        assert profile(name).magnitudes().spacing_wavelengths == (0.5, 0.5)
        assert profile(name).magnitudes().rx_channels is None


def test_drawn_phaser_respects_its_magnitudes():
    p = profile("phaser")
    wavelength_mm = 1e3 * SPEED_OF_LIGHT / p.default_lo_hz
    for seed in range(10):
        array = p.draw_array(seed, dtype=torch.float64)
        assert array.num_elements == 8
        spacing_mm = np.diff(array.positions.numpy()) * wavelength_mm
        assert np.all((spacing_mm >= 14.0) & (spacing_mm <= 15.0))
        level_db = 20 * math.log10(abs(array.coupling[0, 1].item()))
        assert -25.0 <= level_db <= -15.0
        floor = 0.75 * 10 ** (-1.44 / 20)
        assert array.gain_rx.abs().min() >= floor and array.gain_rx.abs().max() <= 1.0
    assert p.draw_array(3).to_dict() == p.draw_array(3).to_dict()


def test_weights_quantised_as_each_board_applies_them():
    w = torch.randn(4, 8, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(profile("phaser").quantise_weights(w), quantise_adar1000(w))
    ste = profile("phaser").quantise_weights(w.clone().requires_grad_(), straight_through=True)
    assert torch.equal(ste.detach(), quantise_adar1000(w)) and ste.requires_grad
    v = torch.randn(4, 2, dtype=torch.complex64)
    assert profile("pluto2").quantise_weights(v) is v
    with pytest.raises(ProfileError, match="the pluto2 profile has K = 2 elements, got weights of length 8"):
        profile("pluto2").quantise_weights(w)


# --- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pluto2", "fmcomms5", "quadmxfe"])
def test_digital_boards_run_the_loop_at_their_k_only(name):
    p = profile(name)
    p.check_scenario(Scenario(num_antennas=p.num_elements))
    p.check_scenario(Scenario(num_antennas=p.num_elements), use="beampattern")
    other = 16 if p.num_elements != 16 else 8
    message = f"the {name} profile has K = {p.num_elements} elements; the scenario has K = {other}"
    with pytest.raises(ProfileError, match=message):
        p.check_scenario(Scenario(num_antennas=other))


def test_a_k16_model_on_a_pluto_is_refused():
    with pytest.raises(ProfileError, match="the pluto2 profile has K = 2"):
        profile("pluto2").check_scenario(Scenario())


def test_phaser_refuses_the_live_loop_but_measures_beampatterns():
    p = profile("phaser")
    with pytest.raises(ProfileError, match="the phaser profile cannot run a live ISAC loop: its array is analog"):
        p.check_scenario(Scenario(num_antennas=8))
    p.check_scenario(Scenario(num_antennas=8), use="beampattern")
    with pytest.raises(ProfileError, match="the phaser profile has K = 8"):
        p.check_scenario(Scenario(), use="beampattern")


def test_unknown_names_uses_and_lo_are_refused():
    known = "unknown device profile 'hackrf'; known: phaser, pluto2, fmcomms5, quadmxfe"
    with pytest.raises(ProfileError, match=known):
        profile("hackrf")
    with pytest.raises(ProfileError, match="unknown device profile"):
        profile(None)
    with pytest.raises(ValueError, match="use must be one of"):
        profile("pluto2").check_scenario(Scenario(num_antennas=2), use="radar")
    with pytest.raises(ProfileError, match="the phaser profile tunes 10-10.5 GHz, got an LO of 2.4 GHz"):
        profile("phaser").magnitudes(2.4e9)
    with pytest.raises(ProfileError, match="LO"):
        profile("pluto2").draw_array(0, lo_hz=float("nan"))


def test_importable_without_gnuradio_and_pyadi_iio():
    code = (
        "import sys\n"
        "for name in ('gnuradio', 'adi', 'iio'):\n"
        "    sys.modules[name] = None\n"
        "from isac_ae.hw.profiles import profile\n"
        "print(profile('phaser').num_elements)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "8"
