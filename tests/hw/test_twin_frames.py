"""The twin's sample-level physics and the over-the-air frame, in process (no emulator, no clients).

A frame goes through :class:`TwinSource` as the emulator would hand it over
(a cyclic TX burst, an RX request at an arbitrary clock), and the snapshots
recovered by :mod:`isac_ae.hw.frames` are checked against the twin's hidden
truth and the definitions: unit noise, the leakage, the CFO and CSI, the
echo's direction.
"""

import json
import math

import numpy as np
import pytest
import torch

from isac_ae.hw.emulator.source import SCENE_ATTR, AttrKey, DeviceState, RxRequest, TxBurst
from isac_ae.hw.frames import FrameError, FrameLayout, build_frame, comm_block, find_frame, radar_block
from isac_ae.hw.twin import COMM_RADIO, DigitalTwin, TwinTruth

from ..helpers import Z

K = 16
LAYOUT = FrameLayout(data=8192)


def _state(scene: dict) -> DeviceState:
    return DeviceState({AttrKey("ad9361-phy", None, False, "debug", SCENE_ATTR): json.dumps(scene)})


def _symbols(n, seed=0):
    return np.exp(0.5j * np.pi * (np.random.default_rng(seed).integers(0, 4, n) + 0.5))


def _capture(twin, frame, scene, radio="quadmxfe", channels=tuple(range(K)), start=123_457):
    source = twin.source()
    state = _state(scene)
    source.transmit(TxBurst("quadmxfe", "tx", tuple(range(K)), 1000, frame, True, state))
    return source.receive(RxRequest(radio, "rx", channels, start, 2 * LAYOUT.length + 77, state))


@pytest.fixture(scope="module")
def twin():
    return DigitalTwin("quadmxfe", seed=4)


def test_noise_only_snapshots_have_unit_power_and_the_leakage_is_recovered(twin):
    beam = np.ones(K) / 4
    frame = build_frame(LAYOUT, beam, _symbols(LAYOUT.data))
    block = radar_block(LAYOUT, _capture(twin, frame, {"targets": []}), frame)
    n = block.z.size
    # Noise power from Q quiet samples per channel (rel. std 1/sqrt(Q), 16 channels averaged), the sample
    # mean of n powers, and the least-squares leakage residual, a bias of K_tx / P of the noise.
    est_std = math.sqrt(1 / (LAYOUT.quiet * K) + 1 / n)
    residual = K / LAYOUT.preamble
    assert abs(np.mean(np.abs(block.z) ** 2) - 1 - residual) < Z * est_std
    truth = twin.truth
    per_channel_power = (LAYOUT.tx_scale / math.sqrt(K)) ** 2
    sigma = math.sqrt(truth.noise_power / (LAYOUT.preamble * per_channel_power) / 2)  # per real part
    error = block.leakage - truth.leakage
    assert np.max(np.abs(error.real)) < Z * sigma and np.max(np.abs(error.imag)) < Z * sigma


def test_the_frame_is_found_at_any_latency_and_not_without_a_transmitter(twin):
    frame = build_frame(LAYOUT, np.ones(K) / 4, _symbols(LAYOUT.data))
    for start in (0, 5_000, 99_999):
        rx = _capture(twin, frame, {"targets": []}, start=start)
        offset = find_frame(LAYOUT, rx, K)
        # The frame starts where the twin's clock puts TX sample 0 of a period (latency included).
        assert (start + offset - twin.truth.latency - 1000) % LAYOUT.length == 0
    silent = twin.source().receive(
        RxRequest("quadmxfe", "rx", tuple(range(K)), 0, 2 * LAYOUT.length, _state({"targets": []}))
    )
    with pytest.raises(FrameError, match="no preamble"):
        find_frame(LAYOUT, silent, K)
    with pytest.raises(FrameError, match="cannot hold"):
        find_frame(LAYOUT, silent[:, : LAYOUT.length], K)


def test_a_strong_echo_comes_from_the_targets_angle_through_the_boards_manifold(twin):
    theta_deg = 12.0
    array = twin.truth.array.to(dtype=torch.float64)
    a_tx = array.steering_tx(torch.tensor(math.radians(theta_deg), dtype=torch.float64)).numpy()
    beam = a_tx.conj() / np.linalg.norm(a_tx)  # the beam that reaches the target best on this board
    frame = build_frame(LAYOUT, beam, _symbols(LAYOUT.data))
    scene = {"targets": [{"angle_deg": theta_deg, "amplitude": 0.01}]}
    z = radar_block(LAYOUT, _capture(twin, frame, scene), frame).z.astype(np.complex128)
    grid = np.radians(np.linspace(-60, 60, 2401))
    a_rx = array.steering_rx(torch.tensor(grid)).numpy()  # (G, K)
    # Concentrated ML for z_n = s_n a_rx(theta) + n: max |a^H z|^2 / ||a||^2 (the board's gains make ||a|| vary).
    spectrum = np.sum(np.abs(z @ a_rx.conj().T) ** 2, axis=0) / np.sum(np.abs(a_rx) ** 2, axis=1)
    assert abs(math.degrees(grid[np.argmax(spectrum)]) - theta_deg) < 0.1
    # With the nominal manifold (what an uncalibrated receiver assumes) the peak is elsewhere or smeared:
    nominal = np.exp(-2j * np.pi * np.outer(np.sin(grid), 0.5 * np.arange(K)))
    smeared = np.sum(np.abs(z @ nominal.conj().T) ** 2, axis=0) / K
    assert smeared.max() < 0.5 * spectrum.max()


def test_comm_receiver_recovers_cfo_csi_and_the_symbols(twin):
    beam = np.ones(K) / 4
    symbols = _symbols(LAYOUT.data, seed=3)
    frame = build_frame(LAYOUT, beam, symbols)
    scene = {"targets": [], "comm_angle_deg": 2.0, "comm_amplitude": 0.3}
    rx = _capture(twin, frame, scene, radio=COMM_RADIO, channels=(0,))
    block = comm_block(LAYOUT, rx, K)
    # CFO from two pilot halves of H samples: std 1 / (2 pi H sqrt(H SNR)) cycles per sample.
    snr = np.mean(np.abs(block.kappa) ** 2)
    assert snr > 100  # the scene's channel is strong: this checks the estimators, not fading
    cfo_std = 1 / (2 * math.pi * LAYOUT.pilot_half * math.sqrt(LAYOUT.pilot_half * snr))
    assert abs(block.cfo_cycles_per_sample - twin.truth.comm_cfo) < Z * cfo_std
    equalised = block.z / block.kappa
    nearest = np.exp(0.5j * np.pi * (np.round(np.angle(equalised) / (0.5 * np.pi) - 0.5) + 0.5))
    assert np.mean(~np.isclose(nearest, symbols)) < 1e-3


def test_truth_round_trips_through_json(twin, tmp_path):
    path = tmp_path / "truth.json"
    twin.truth.write_json(path)
    again = TwinTruth.from_dict(json.loads(path.read_text()))
    assert again.latency == twin.truth.latency and again.comm_cfo == twin.truth.comm_cfo
    np.testing.assert_allclose(again.leakage, twin.truth.leakage)
    torch.testing.assert_close(again.array.gain_rx, twin.truth.array.gain_rx)
    with pytest.raises(ValueError, match="twin truth"):
        TwinTruth.from_dict({"format": "other"})
