"""Calibration against a source at boresight, run through pyadi-iio against twins with known hidden gains.

Without coupling the estimates equal the hidden gains within tolerances
derived from the sample count and the twin's SNR; with coupling they equal the
boresight response diag(g) C 1 instead, about |c1| away from the gains;
position errors do not show at boresight at all. The same code runs behind
an operator prompt (a simulated person at the bench moving the twin's scene).
"""

import io
import json
import math
import re

import numpy as np
import pytest
import torch

from isac_ae.hw.calibration import (
    TX_FRAMES,
    Calibration,
    CalibrationError,
    calibrate_digital,
    calibrate_phaser,
    calibration_frame,
    rx_responses,
    utc_now,
)
from isac_ae.hw.device import CommReceiver, PhaserArray, Transceiver
from isac_ae.hw.profiles import profile
from isac_ae.hw.scene import OperatorSceneController, Scene, Target
from isac_ae.hw.twin import DigitalTwin

from ..helpers import Z
from .twin_variants import (
    TONE,
    TX_SCALE,
    eigenvector_ratio_std,
    manifold,
    noise_power,
    ratio_std,
    relative,
    served,
    variant,
    within,
)

TARGET, COMM, DATA = 0.1, 0.3, 4096  # the scene's amplitudes and the samples per digital measurement
SOURCE, SAMPLES, STEPS = 0.1, 4096, 8  # the Phaser's source amplitude, samples per capture, null-search steps


def _calibrate_digital(twin, controller=None):
    with served(twin) as (uris, scenes):
        board = Transceiver(twin.profile.name, uris[0])
        pluto = profile("pluto2")  # the comm receiver; the twin maps its samples one to one to the board's
        comm = CommReceiver(uris[1], pluto.default_lo_hz, pluto.default_sample_rate_hz)
        try:
            return calibrate_digital(
                board,
                comm,
                controller(scenes) if controller else scenes,
                target_amplitude=TARGET,
                comm_amplitude=COMM,
                data=DATA,
            )
        finally:
            board.close()


def _rx_std(twin, a):
    """RX: the eigenvector of DATA snapshots of an echo of power TARGET^2 |a_tx(0)_0|^2 TX_SCALE^2."""
    power = (TARGET * TX_SCALE * abs(manifold(twin, 0.0, "tx")[0, 0])) ** 2
    return eigenvector_ratio_std(a, power, noise_power(twin), DATA)


def _tx_std(twin, calibration, a):
    """TX: least squares on the preamble (exact covariance from the sent sequences); the channel's SNR is the
    one measured (the comm gain beta is a fresh Rayleigh draw of the twin's scene)."""
    k = twin.profile.num_elements
    layout, frame = calibration_frame(k, DATA)
    sent = frame[:, layout.preamble_start : layout.pilot_start].astype(np.complex128).T
    signal = np.mean(np.abs(sent @ a) ** 2)
    noise_over_beta2 = signal / 10 ** (calibration.diagnostics["tx_snr_db"] / 10)
    return ratio_std(noise_over_beta2 * np.linalg.inv(sent.conj().T @ sent), a)


def _check_digital(twin, calibration, rx_truth, tx_truth):
    assert calibration.diagnostics["tx_snr_db"] > 20, "the comm channel is in a deep fade: this checks fading"
    a_rx, a_tx = manifold(twin, 0.0, "rx")[0], manifold(twin, 0.0, "tx")[0]
    assert within(calibration.rx_gain, relative(rx_truth), _rx_std(twin, a_rx), Z)
    assert within(calibration.tx_gain, relative(tx_truth), _tx_std(twin, calibration, a_tx), Z)


@pytest.mark.parametrize("name", ["pluto2", "fmcomms5", "quadmxfe"])
def test_digital_calibration_recovers_the_hidden_gains_without_coupling(name):
    twin = variant(name, 5, coupling=False)
    calibration = _calibrate_digital(twin)
    truth = twin.truth.array
    _check_digital(twin, calibration, truth.gain_rx.numpy(), truth.gain_tx.numpy())
    assert calibration.device == name and calibration.num_elements == twin.profile.num_elements
    # The AD9361 boards are tuned to the profile's LO; the MxFE keeps its NCOs (0 Hz on the emulator).
    assert calibration.lo_hz == (0.0 if name == "quadmxfe" else twin.profile.default_lo_hz)


def _coupling_level(twin) -> float:
    return abs(twin.truth.array.coupling[0, 1].item())


def test_digital_calibration_folds_coupling_into_the_gains():
    twin = variant("fmcomms5", 5)
    calibration = _calibrate_digital(twin)
    # What it recovers is the boresight response diag(g) C 1 ...
    _check_digital(twin, calibration, manifold(twin, 0.0, "rx")[0], manifold(twin, 0.0, "tx")[0])
    # ... which is off the hidden gains by about the nearest-neighbour coupling: (1 + 2 c1) / (1 + c1) ~ 1 + c1
    # between an inner element and element 0 at the edge.
    c1 = _coupling_level(twin)
    for estimate, gains in (
        (calibration.rx_gain, twin.truth.array.gain_rx),
        (calibration.tx_gain, twin.truth.array.gain_tx),
    ):
        residual = np.max(np.abs(estimate / relative(gains.numpy()) - 1))
        assert 0.5 * c1 < residual < 1.5 * c1


class _Operator:
    """A person at the bench: reads each prompt and sets the twin's scene to what it describes."""

    def __init__(self, scenes):
        self.scenes = scenes
        self.output = io.StringIO()

    def __call__(self) -> str:
        prompt = [line for line in self.output.getvalue().splitlines() if line.startswith("set up the bench")][-1]
        targets = tuple(Target(float(a), TARGET) for a in re.findall(r"target at ([-+][\d.]+) deg", prompt))
        comm = re.search(r"comm receiver at ([-+][\d.]+) deg", prompt)
        self.scenes.set(
            Scene(
                targets=targets,
                comm_angle_deg=float(comm.group(1)) if comm else None,
                comm_amplitude=COMM if comm else 0.0,
            )
        )
        return "\n"


def test_the_same_calibration_runs_behind_an_operator_and_position_errors_do_not_show():
    twin = variant("fmcomms5", 5, coupling=False, spacing_std=0.05)
    operators = []

    def controller(scenes):
        operators.append(_Operator(scenes))
        return OperatorSceneController(input=operators[0], output=operators[0].output)

    calibration = _calibrate_digital(twin, controller)
    prompts = operators[0].output.getvalue()
    assert "no target (reflector removed or off)" in prompts
    assert "target at +0.0 deg" in prompts and "comm receiver at +0.0 deg" in prompts
    # Every path has the same length at boresight, so the displaced elements calibrate as the plain ones.
    truth = twin.truth.array
    _check_digital(twin, calibration, truth.gain_rx.numpy(), truth.gain_tx.numpy())
    assert [s["label"] for s in calibration.scenes] == [
        "reflector removed: leakage",
        "reflector at +0.00 deg",
        "comm receiver at 0 deg",
    ]


# --- the Phaser -----------------------------------------------------------------------------------
def _calibrate_phaser(twin):
    with served(twin) as (uris, scenes):
        return calibrate_phaser(PhaserArray(uris[0]), scenes, amplitude=SOURCE, samples=SAMPLES, phase_steps=STEPS)


def _check_phaser(twin, calibration, truth):
    """Amplitudes: |Rx1 + Rx2| with one element on, noise 2 sigma^2 / N on the sum. Phases: the first
    harmonic of STEPS powers of two equalised elements, std sqrt(4 sigma^2 / (N STEPS)) / |A|."""
    sigma2 = noise_power(twin)
    level = np.abs(SOURCE * TONE * manifold(twin, 0.0)[0])
    expected = relative(truth)
    amplitude_std = np.abs(expected) * np.sqrt(sigma2 / SAMPLES * (1 / level**2 + 1 / level[0] ** 2))
    phase_std = np.sqrt(4 * sigma2 / (SAMPLES * STEPS)) / np.minimum(level, level[0])
    estimate = calibration.rx_gain
    assert np.all(np.abs(np.abs(estimate) - np.abs(expected)) <= Z * amplitude_std)
    assert np.all(np.abs(np.angle(estimate / expected)) <= Z * phase_std)


def test_phaser_calibration_recovers_the_hidden_gains_without_coupling():
    twin = variant("phaser", 2, coupling=False)
    calibration = _calibrate_phaser(twin)
    _check_phaser(twin, calibration, twin.truth.array.gain_rx.numpy())
    assert calibration.tx_correction is None and np.array_equal(calibration.tx_gain, calibration.rx_gain)
    # After correction the two sub-arrays' coherent sums are equal, up to the ADAR1000's rounding of the
    # corrected weights: gain codes to +-0.5 of the smallest code, phases to +-1.4 deg.
    correction = np.abs(calibration.rx_correction)
    smallest_code = round(127 * correction.min() / correction.max())
    rounding = 0.5 / smallest_code + (1 - math.cos(math.radians(360 / 128 / 2)))
    bound = 20 * math.log10((1 + rounding) / (1 - rounding))
    assert abs(calibration.diagnostics["calibrated_channel_mismatch_db"]) < bound
    assert len(calibration.diagnostics["element_snr_db"]) == 8


def test_phaser_calibration_folds_coupling_into_the_gains():
    twin = variant("phaser", 2)  # as drawn: coupling and spacing errors
    calibration = _calibrate_phaser(twin)
    _check_phaser(twin, calibration, manifold(twin, 0.0)[0])
    residual = np.max(np.abs(calibration.rx_gain / relative(twin.truth.array.gain_rx.numpy()) - 1))
    c1 = _coupling_level(twin)
    assert 0.5 * c1 < residual < 1.5 * c1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"phase_steps": 6}, "phase_steps must divide 128"),
        ({"phase_steps": 2}, "phase_steps must divide 128"),
        ({"samples": 1001}, "multiple of 8"),
        ({"amplitude": 0.0}, "amplitude must be a number > 0"),
    ],
)
def test_phaser_calibration_refuses_bad_parameters_before_touching_the_device(kwargs, message):
    with pytest.raises(ValueError, match=message):
        calibrate_phaser(None, None, **kwargs)


def test_digital_measurements_refuse_bad_angles_and_lengths_before_touching_the_device():
    with pytest.raises(ValueError, match=r"degrees in \[-90, 90\]"):
        rx_responses(None, None, [0.0, 91.0])
    with pytest.raises(ValueError, match="data must be a positive number"):
        calibration_frame(4, 0)


# --- the result: file, array model, corrections ---------------------------------------------------
def _calibration(device="fmcomms5", k=4, seed=0, tx=True):
    rng = np.random.default_rng(seed)

    def gains():
        g = (0.75 + 0.25 * rng.random(k)) * np.exp(2j * np.pi * rng.random(k))
        return g / g[0]

    rx_gain, tx_gain = gains(), gains()
    return Calibration(
        device=device,
        num_elements=k,
        lo_hz=2.4e9,
        uri="ip:127.0.0.1:30431",
        date=utc_now(),
        method="test",
        rx_correction=1 / rx_gain,
        tx_correction=1 / tx_gain if tx else None,
        scenes=({"label": "source at +0.00 deg", "targets": []},),
        diagnostics={"samples": 1},
    )


def test_calibration_file_round_trips_and_is_written_atomically(tmp_path):
    calibration = _calibration()
    path = tmp_path / "cal.json"
    calibration.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["cal.json"]
    data = json.loads(path.read_text())
    assert data["device"] == "fmcomms5" and data["lo_hz"] == 2.4e9 and data["uri"] == "ip:127.0.0.1:30431"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", data["date"])
    again = Calibration.load(path, "fmcomms5")
    np.testing.assert_array_equal(again.rx_correction, calibration.rx_correction)
    np.testing.assert_array_equal(again.tx_correction, calibration.tx_correction)
    assert again.scenes == calibration.scenes and again.diagnostics == calibration.diagnostics
    phaser = _calibration("phaser", 8, tx=False)
    phaser.save(path)
    assert Calibration.load(path, "phaser").tx_correction is None


def test_loading_refuses_another_device_another_k_and_broken_files(tmp_path):
    path = tmp_path / "cal.json"
    _calibration().save(path)
    with pytest.raises(CalibrationError, match="calibrates a fmcomms5, not a quadmxfe"):
        Calibration.load(path, "quadmxfe")
    with pytest.raises(CalibrationError, match="K = 4 elements, expected K = 16"):
        Calibration.load(path, "fmcomms5", num_elements=16)
    with pytest.raises(CalibrationError, match="unknown device profile 'hackrf'"):
        Calibration.load(path, "hackrf")
    data = json.loads(path.read_text())
    for broken, message in (
        ({**data, "rx_correction": data["rx_correction"][:3]}, "rx_correction must be 4 finite non-zero"),
        ({**data, "tx_correction": [[0, 0]] * 4}, "tx_correction must be 4 finite non-zero"),
        ({**data, "rx_correction": [1, 2, 3, 4]}, "rx_correction is not a list of"),
        ({**data, "num_elements": "four"}, "invalid literal"),
        ({**data, "format": "other"}, "is not a calibration"),
        ({k: v for k, v in data.items() if k != "lo_hz"}, "missing field 'lo_hz'"),
    ):
        path.write_text(json.dumps(broken))
        with pytest.raises(CalibrationError, match=message):
            Calibration.load(path, "fmcomms5")
    path.write_text("{not json")
    with pytest.raises(CalibrationError, match="is not JSON"):
        Calibration.load(path, "fmcomms5")
    with pytest.raises(CalibrationError, match="cannot read"):
        Calibration.load(tmp_path / "missing.json", "fmcomms5")


def test_array_model_and_corrections_undo_the_estimated_gains():
    calibration = _calibration()
    positions = 0.5 * np.arange(4)
    model = calibration.array_model(positions, dtype=torch.float64)
    np.testing.assert_array_equal(model.positions.numpy(), positions)
    np.testing.assert_allclose(model.gain_rx.numpy(), calibration.rx_gain)
    np.testing.assert_allclose(model.gain_tx.numpy(), calibration.tx_gain)
    np.testing.assert_array_equal(model.coupling.numpy(), np.eye(4))
    # Snapshots through the estimated RX gains come out as through equal gains (element 0's).
    theta = torch.tensor(math.radians(25.0), dtype=torch.float64)
    snapshot = model.steering_rx(theta).numpy()
    nominal = np.exp(-2j * np.pi * positions * math.sin(theta))
    np.testing.assert_allclose(
        calibration.correct_rx(np.stack([snapshot, 2 * snapshot])), np.stack([nominal, 2 * nominal]), atol=1e-12
    )
    # Pre-corrected TX weights radiate the intended pattern through the estimated TX gains, at the same norm.
    v = np.exp(1j * np.arange(4)) / 2
    w = calibration.precorrect_tx(v)
    assert math.isclose(np.linalg.norm(w), 1.0)
    radiated = model.gain_tx.numpy() * w
    np.testing.assert_allclose(radiated / v, np.full(4, radiated[0] / v[0]), rtol=1e-12)
    np.testing.assert_array_equal(calibration.precorrect_tx(np.zeros(4)), np.zeros(4))
    with pytest.raises(CalibrationError, match="K = 4 elements on its last axis"):
        calibration.correct_rx(np.ones(3))
    with pytest.raises(CalibrationError, match="got \\(3,\\) positions"):
        calibration.array_model(np.arange(3))


def test_combined_frames_recover_the_tx_gains_through_a_fade():
    """Quad-MxFE twin 3 puts the comm receiver in a fade (a few dB of SNR per frame): the TX_FRAMES frames'
    combination still lands within the LS error of the combined SNR (Z sigma)."""
    twin = DigitalTwin("quadmxfe", 3)
    calibration = _calibrate_digital(twin)
    per_frame_db = calibration.diagnostics["tx_snr_db"] - 10 * np.log10(TX_FRAMES)
    assert per_frame_db < 5.0, "no fade: this checks the combination at low SNR"
    a_tx = manifold(twin, 0.0, "tx")[0]
    assert within(calibration.tx_gain, relative(a_tx), _tx_std(twin, calibration, a_tx), Z)
