"""Over-the-air frame blocks without a radio: the Frame Transmitter's streams looped back through a known
channel (a delay, a gain, white noise) into the Radar and Comm Frame Receivers, checked against that channel.
The whole chain through gr-iio and the emulated twin is tests/hw/test_ota_flowgraph.py."""

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from gnuradio import analog, blocks, gr  # noqa: E402

from isac_ae.blocks import ota  # noqa: E402

from ..helpers import Z  # noqa: E402

K, N, FRAMES = 2, 1024, 6
NOISE = 1e-4  # power per RX sample, full scale
GAP = 777  # samples of silence before the first frame (an unknown TX-to-RX latency)


def _looped(gain, rng):
    """Snapshots y = x v through Frame Transmitter -> (gain matrix, delay, noise) -> both frame receivers."""
    beam = np.array([0.6 + 0.2j, -0.3 + 0.7j], np.complex64)
    beam /= np.linalg.norm(beam)
    # one frame more than the receivers take: a frame is searched for in a window reaching past its end
    x = np.exp(0.5j * np.pi * (rng.integers(0, 4, (FRAMES + 1) * N) + 0.5)).astype(np.complex64)
    y = np.outer(x, beam).astype(np.complex64)
    tb = gr.top_block()
    ys = blocks.vector_source_c(y.ravel().tolist(), False, K)
    vs = blocks.vector_source_c(np.tile(beam, (FRAMES + 1) * N).tolist(), False, K)
    ftx = ota.frame_transmitter(K=K, frame_snapshots=N)
    radar = ota.radar_frame_receiver(K=K, frame_snapshots=N, target_present=False, target_deg=-7.0, frames=FRAMES)
    comm = ota.comm_frame_receiver(K=K, frame_snapshots=N, comm_deg=35.0, frames=FRAMES)
    tb.connect(ys, (ftx, 0))
    tb.connect(vs, (ftx, 1))
    tb.msg_connect((ftx, "sent"), (radar, "sent"))
    # the air: RX_r = sum_t gain[r, t] TX_t delayed by GAP, plus noise; the comm receiver hears RX_0
    for r in range(K):
        add = blocks.add_cc()
        for t in range(K):
            scaled = blocks.multiply_const_cc(complex(gain[r, t]))
            tb.connect((ftx, t), blocks.delay(gr.sizeof_gr_complex, GAP), scaled, (add, t))
        tb.connect(analog.noise_source_c(analog.GR_GAUSSIAN, np.sqrt(NOISE), 10 + r), (add, K))
        tb.connect(add, (radar, r))
        if r == 0:
            tb.connect(add, comm)
    sinks = [blocks.vector_sink_c(K), blocks.vector_sink_b(), blocks.vector_sink_f()]
    for port, sink in enumerate(sinks):
        tb.connect((radar, port), sink)
    comm_sinks = [blocks.vector_sink_c(), blocks.vector_sink_c(), blocks.vector_sink_f()]
    for port, sink in enumerate(comm_sinks):
        tb.connect((comm, port), sink)
    tb.run()
    return x, beam, ftx, radar, comm, [np.array(s.data()) for s in sinks], [np.array(s.data()) for s in comm_sinks]


def test_frames_round_trip_through_a_known_channel():
    rng = np.random.default_rng(5)
    gain = np.array([[0.8, 0.1j], [-0.2, 0.5 - 0.3j]])
    x, beam, ftx, radar, comm, (z, t, theta), (zc, kappa, vartheta) = _looped(gain, rng)
    assert ftx.frames_sent == FRAMES + 1 and radar.frames_found == comm.frames_found == FRAMES
    n = FRAMES * N
    x = x[:n]
    z = z.reshape(n, K)
    # Radar: the leakage (here the whole channel) is estimated on each preamble and removed: what is left is
    # the noise in units of itself, CN(0, 1) per element, up to the estimate's residual of K / P of it.
    # Each frame is scaled by the noise power of its own quiet section (Q = 1024 samples: a relative error of
    # 1/sqrt(Q) per frame, averaged over the frames), and the mean over n samples scatters by 1/sqrt(n).
    power = np.mean(np.abs(z) ** 2, axis=0)
    quiet = ota.frame_layout(N).quiet
    assert np.all(np.abs(power - (1 + K / 2048)) < Z * np.sqrt(1 / n + 1 / (quiet * FRAMES)))
    assert np.all(t == 0) and np.allclose(theta, np.radians(-7.0))
    # Comm: kappa = gain[0] . (tx_scale v) / sqrt(N0), and z / kappa the symbols sent
    # kappa's error: the 2 x 512 pilots' (1 / sqrt(2 H |kappa|^2)) and the quiet section's noise estimate it is
    # scaled by (half of 1/sqrt(Q) in amplitude)
    expected = (gain[0] @ beam) * ota.frame_layout(N).tx_scale / np.sqrt(NOISE)
    spread = np.sqrt(1 / (2 * 512 * abs(expected) ** 2) + 1 / (4 * quiet))
    assert np.all(np.abs(kappa / expected - 1) < Z * spread)
    errors = np.abs(zc / kappa - x)
    assert np.quantile(errors, 0.99) < 5 / abs(expected)
    assert np.allclose(vartheta, np.radians(35.0))


def test_a_receiver_refuses_bad_parameters():
    with pytest.raises(ValueError, match="target_deg"):
        ota.radar_frame_receiver(K=2, target_deg=120.0)
    with pytest.raises(ValueError, match="frame_snapshots"):
        ota.frame_transmitter(K=2, frame_snapshots=0)
    with pytest.raises(ValueError, match="comm_deg"):
        ota.comm_frame_receiver(K=2, comm_deg=float("nan"))
