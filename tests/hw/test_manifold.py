"""The measured manifold and the over-the-air beampattern, through pyadi-iio against twins with coupling and
position errors: the measurement equals the hidden steering_rx(theta) up to one complex scale per angle, within
tolerances derived from the sample count and the twin's SNR, where a boresight calibration does not."""

import math

import numpy as np
import pytest

from isac_ae.array import beampattern, nominal_positions
from isac_ae.hw.calibration import CalibrationError, subarray_channels
from isac_ae.hw.device import PhaserArray, Transceiver
from isac_ae.hw.manifold import (
    Manifold,
    measure_beampattern,
    measure_digital,
    measure_phaser,
)
from isac_ae.hw.profiles import profile

from ..helpers import Z
from .twin_variants import (
    TONE,
    TX_SCALE,
    eigenvector_ratio_std,
    manifold,
    noise_power,
    relative,
    served,
    variant,
    within,
)

ANGLES = np.array([-60.0, -35.0, -10.0, 0.0, 15.0, 40.0, 60.0])
TARGET, DATA = 0.1, 4096
SOURCE, SAMPLES = 0.1, 4096


@pytest.fixture(scope="module")
def digital():
    """A 4-element board with coupling and position errors (std 0.05 wavelengths) and its measured manifold."""
    twin = variant("fmcomms5", 8, spacing_std=0.05)
    with served(twin) as (uris, scenes):
        board = Transceiver("fmcomms5", uris[0])
        try:
            yield twin, measure_digital(board, scenes, ANGLES, amplitude=TARGET, data=DATA)
        finally:
            board.close()


def _digital_std(twin):
    """Per angle: the eigenvector of DATA snapshots of an echo of power (TARGET TX_SCALE |a_tx(theta)_0|)^2."""
    a_rx, a_tx = manifold(twin, ANGLES, "rx"), manifold(twin, ANGLES, "tx")
    return np.stack(
        [
            eigenvector_ratio_std(a, (TARGET * TX_SCALE * abs(t[0])) ** 2, noise_power(twin), DATA)
            for a, t in zip(a_rx, a_tx)
        ]
    )


def test_digital_manifold_equals_the_hidden_one_up_to_a_scale_per_angle(digital):
    twin, measured = digital
    assert measured.device == "fmcomms5" and np.array_equal(measured.angles_deg, ANGLES)
    assert within(measured.response, relative(manifold(twin, ANGLES)), _digital_std(twin), Z)


def test_the_manifold_shows_what_a_boresight_calibration_cannot(digital):
    twin, measured = digital
    # A boresight calibration is the manifold at 0 deg; on the nominal positions it predicts the others as
    # m(0) a_nominal(theta). Coupling and position errors put the truth far outside the statistical tolerance.
    nominal = np.exp(-2j * np.pi * np.outer(np.sin(np.radians(ANGLES)), nominal_positions(4)))
    calibrated = relative(measured.response[ANGLES == 0.0] * nominal)
    std = _digital_std(twin)
    assert not within(calibrated, relative(manifold(twin, ANGLES)), std, Z)
    off = np.abs(calibrated - measured.response)[np.abs(ANGLES) == 60.0]
    assert off.max() > 20 * Z * std.max()


@pytest.fixture(scope="module")
def phaser_twin():
    return variant("phaser", 4)  # as drawn: gains, coupling, spacing of 14-15 mm


def test_the_element_map_puts_elements_1_to_4_on_rx2():
    # BEAM1 (the Pluto's Rx2) sums board elements 3, 4, 1, 2; BEAM0 (Rx1) elements 7, 8, 5, 6.
    np.testing.assert_array_equal(subarray_channels(profile("phaser")), [1, 1, 1, 1, 0, 0, 0, 0])


def test_phaser_manifold_equals_the_hidden_one_up_to_a_scale_per_angle(phaser_twin, tmp_path):
    twin = phaser_twin
    with served(twin) as (uris, scenes):
        measured = measure_phaser(PhaserArray(uris[0]), scenes, ANGLES, amplitude=SOURCE, samples=SAMPLES)
    truth = manifold(twin, ANGLES)
    # Each ratio of two channels' tone amplitudes (N samples, noise sigma^2 each) has relative variance
    # sigma^2 / N (1/|G_k|^2 + 1/|G_ref|^2); elements 1-3 share element 0's channel and are measured against
    # element 4, itself measured against element 0, whose variance adds.
    level2 = np.abs(SOURCE * TONE * truth) ** 2
    per_sample = noise_power(twin) / SAMPLES
    variance = per_sample * (1 / level2 + 1 / level2[:, :1])
    variance[:, 1:4] = per_sample * (1 / level2[:, 1:4] + 1 / level2[:, 4:5]) + variance[:, 4:5]
    std = np.abs(relative(truth)) * np.sqrt(variance / 2)
    assert within(measured.response, relative(truth), std, Z)
    # Saved and loaded, as arrays with a JSON header.
    path = tmp_path / "phaser_manifold.npz"
    measured.save(path)
    again = Manifold.load(path, "phaser")
    np.testing.assert_array_equal(again.response, measured.response)
    np.testing.assert_array_equal(again.angles_deg, ANGLES)
    assert again.method == measured.method and again.lo_hz == measured.lo_hz and again.date == measured.date
    assert [p.name for p in tmp_path.iterdir()] == ["phaser_manifold.npz"]


def test_over_the_air_beampattern_is_the_hidden_arrays_response_to_the_applied_weights(phaser_twin):
    twin = phaser_twin
    weights = np.exp(2j * np.pi * nominal_positions(8) * math.sin(math.radians(20.0)))  # nominal steering to 20 deg
    with served(twin) as (uris, scenes):
        applied, output = measure_beampattern(
            PhaserArray(uris[0]), scenes, weights, ANGLES, amplitude=SOURCE, samples=SAMPLES
        )
    np.testing.assert_allclose(np.abs(applied), 1.0, rtol=1e-6)  # all at gain code 127
    expected = SOURCE * TONE * np.abs(manifold(twin, ANGLES) @ applied)
    # |Rx1 + Rx2| has noise std sqrt(sigma^2 / N); the 12-bit DAC moves each tone sample by at most one step on
    # I and Q (sqrt(2) / 2048 of full scale), at most that relative to the tone's 0.5 in the measured level.
    tolerance = Z * math.sqrt(noise_power(twin) / SAMPLES) + expected * math.sqrt(2) / 2048 / TONE
    assert np.all(np.abs(np.abs(output) - expected) <= tolerance)
    # and it is not what the nominal array predicts for those weights (the twin is uncalibrated)
    predicted = SOURCE * TONE * np.sqrt(beampattern(nominal_positions(8), applied, np.radians(ANGLES)))
    assert np.max(np.abs(predicted - expected)) > 100 * tolerance.max()


def test_manifold_files_are_refused_for_another_device_or_another_kind(tmp_path):
    manifold_ = Manifold(
        device="fmcomms5",
        angles_deg=np.array([0.0, 10.0]),
        response=np.ones((2, 4), complex),
        snr_db=np.array([20.0, 21.0]),
        lo_hz=2.4e9,
        uri="ip:127.0.0.1:1",
        date="2025-01-01T00:00:00+00:00",
        method="test",
    )
    path = tmp_path / "m.npz"
    manifold_.save(path)
    with pytest.raises(CalibrationError, match="measured on a fmcomms5, not a phaser"):
        Manifold.load(path, "phaser")
    np.savez(tmp_path / "other.npz", response=np.ones(3))
    with pytest.raises(CalibrationError, match="is not a manifold file"):
        Manifold.load(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CalibrationError, match="is not a manifold file"):
        Manifold.load(tmp_path / "text.npz")
    with pytest.raises(CalibrationError, match=r"angles \(G,\), responses \(G, K\)"):
        Manifold(
            device="phaser",
            angles_deg=np.zeros(2),
            response=np.ones((3, 8)),
            snr_db=np.zeros(2),
            lo_hz=1.0,
            uri="",
            date="",
            method="",
        )
    with pytest.raises(ValueError, match=r"degrees in \[-90, 90\]"):
        measure_phaser(None, None, [])
