"""C++ weights transmitter and the baseline transmitter on it, against the core's BaselineSystem."""

import math

import numpy as np
import pytest
import torch

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from gnuradio import blocks, gr  # noqa: E402

from isac_ae import Scenario  # noqa: E402
from isac_ae.baselines import BaselineSystem, qam_constellation  # noqa: E402
from isac_ae.blocks import cpp_transmitters  # noqa: E402

K = 16
OUT = [("c", K), ("c", K)]  # y, v


def _beam(rng, k=K):
    w = rng.standard_normal(k) + 1j * rng.standard_normal(k)
    return (w / np.linalg.norm(w)).astype(np.complex64)


def test_outputs_constellation_times_weights(run, rng):
    x = qam_constellation(16).astype(np.complex64)
    w = _beam(rng)
    m = rng.integers(0, 16, 10_000).astype(np.uint8)
    y, v = run(cpp_transmitters.weights_transmitter(K, x, w), [(m, "b", 1)], OUT)
    np.testing.assert_allclose(y, x[m][:, None] * w[None, :], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(v, np.broadcast_to(w, (len(m), K)))


@pytest.mark.parametrize("rho, phi_deg", [(0.0, 0.0), (0.5, 30.0), (1.0, 0.0), (0.3, -120.0)])
def test_baseline_transmitter_matches_core(run, rng, rho, phi_deg):
    tx = cpp_transmitters.baseline_transmitter(K, 4, rho, phi_deg, (-20.0, 20.0), (30.0, 50.0))
    m = rng.integers(0, 4, 5000)
    y, v = run(tx, [(m.astype(np.uint8), "b", 1)], OUT)
    core = BaselineSystem(Scenario(), rho, math.radians(phi_deg))
    y_ref, beam = core.transmit(torch.as_tensor(m))
    np.testing.assert_allclose(y, y_ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v[0], beam.numpy(), rtol=1e-5, atol=1e-6)


def test_baseline_callbacks_recompute_the_beam(run):
    tx = cpp_transmitters.baseline_transmitter(K, 4, 0.5, 0.0)
    tx.set_rho(0.2)
    tx.set_phi(45.0)
    assert tx.rho() == 0.2 and tx.phi() == 45.0
    core = BaselineSystem(Scenario(), 0.2, math.radians(45.0))
    np.testing.assert_allclose(np.asarray(tx.weights()), core.beam.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tx.constellation()), qam_constellation(4), rtol=1e-6)
    _, v = run(tx, [(np.zeros(3, np.uint8), "b", 1)], OUT)
    np.testing.assert_allclose(v[0], core.beam.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="rho"):
        tx.set_rho(1.5)
    assert tx.rho() == 0.2  # a refused value changes nothing
    with pytest.raises(ValueError, match="square"):
        cpp_transmitters.baseline_transmitter(K, 5, 0.5, 0.0)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="phi_deg must be a finite number"):
            tx.set_phi(bad)
    assert tx.phi() == 45.0


def test_baseline_set_sectors_redesigns_both_beams(run):
    """The GUI's sector sliders reach the baseline beam too (degrees), as the core designs it."""
    tx = cpp_transmitters.baseline_transmitter(K, 4, 0.3, 20.0)
    tx.set_sectors((-10.0, 30.0), (40.0, 60.0))
    assert tx.sectors_deg() == ((-10.0, 30.0), (40.0, 60.0)) and (tx.rho(), tx.phi()) == (0.3, 20.0)
    core = BaselineSystem(
        Scenario(target_sector_deg=(-10.0, 30.0), comm_sector_deg=(40.0, 60.0)), 0.3, math.radians(20.0)
    )
    _, v = run(tx, [(np.zeros(3, np.uint8), "b", 1)], OUT)
    np.testing.assert_allclose(v[0], core.beam.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="target_sector_deg must satisfy"):
        tx.set_sectors((30.0, -10.0), (40.0, 60.0))
    assert tx.sectors_deg() == ((-10.0, 30.0), (40.0, 60.0))  # refused: the beam stays


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(K=10**6), r"K \(num_antennas\) must be an integer in \[1, 4096\]"),  # was a 5 GiB beam design
        (dict(K=16.5), "K must be an integer"),
        (dict(M=3), "square"),
        (dict(M=1024), r"\|M\| \(num_messages\) must be an integer in \[2, 256\]"),
        (dict(rho=float("nan")), "rho"),
        (dict(phi_deg=float("nan")), "phi_deg must be a finite number"),  # was "the weights must be finite"
        (dict(target_sector_deg=(20.0, -20.0)), "target_sector_deg must satisfy"),  # was accepted
        (dict(target_sector_deg=(-100.0, 20.0)), "target_sector_deg must satisfy"),  # was accepted
        (dict(target_sector_deg=(float("nan"), 20.0)), "target_sector_deg must satisfy"),  # was a SystemError
        (dict(comm_sector_deg=(30.0,)), r"comm_sector_deg must be \(min, max\)"),
    ],
)
def test_baseline_bad_parameters_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cpp_transmitters.baseline_transmitter(**kwargs)


def test_index_outside_constellation_gives_zeros_and_one_warning(run, capfd):
    x = qam_constellation(4)
    w = np.ones(4, np.complex64) / 2
    m = np.array([0, 3, 4, 255, 1], np.uint8)
    y, v = run(cpp_transmitters.weights_transmitter(4, x, w), [(m, "b", 1)], [("c", 4), ("c", 4)])
    np.testing.assert_array_equal(y[2:4], 0)
    np.testing.assert_allclose(y[[0, 1, 4]], x[[0, 3, 1]][:, None] * w[None, :], rtol=1e-6)
    np.testing.assert_array_equal(v, np.broadcast_to(w, (5, 4)))
    captured = capfd.readouterr()  # GNU Radio's console log sink writes to stdout
    assert (captured.out + captured.err).count("outside the constellation") == 1


def test_setters_are_consistent_while_running(rng):
    """set_weights from another thread: every item's y and v come from one beam."""
    x = qam_constellation(4).astype(np.complex64)
    w1, w2 = _beam(rng), _beam(rng)
    tx = cpp_transmitters.weights_transmitter(K, x, w1)
    n = 300_000
    msgs = rng.integers(0, 4, 4096).astype(np.uint8)
    tb = gr.top_block()
    src = blocks.vector_source_b(msgs.tolist(), True)
    head = blocks.head(1, n)
    sy, sv = blocks.vector_sink_c(K), blocks.vector_sink_c(K)
    tb.connect(src, head, tx)
    tb.connect((tx, 0), sy)
    tb.connect((tx, 1), sv)
    tb.start()
    for i in range(2000):
        tx.set_weights(w2 if i % 2 == 0 else w1)
    tb.wait()
    y = np.asarray(sy.data(), np.complex64).reshape(-1, K)
    v = np.asarray(sv.data(), np.complex64).reshape(-1, K)
    m = np.resize(msgs, n)
    is_w1 = np.all(v == w1, axis=1)
    is_w2 = np.all(v == w2, axis=1)
    assert np.all(is_w1 | is_w2)
    np.testing.assert_allclose(y, x[m][:, None] * v, rtol=1e-6, atol=1e-7)


def test_bad_parameters_raise_value_error():
    x = qam_constellation(4)
    with pytest.raises(ValueError, match="weights has 3 values but K = 4"):
        cpp_transmitters.weights_transmitter(4, x, np.ones(3))
    with pytest.raises(ValueError, match="1 to 256 points"):
        cpp_transmitters.weights_transmitter(4, np.ones(257), np.ones(4))
    with pytest.raises(ValueError, match="must not be empty"):
        cpp_transmitters.weights_transmitter(4, [], np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        cpp_transmitters.weights_transmitter(2, x, [1.0, float("nan")])
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4096\]"):
        cpp_transmitters.weights_transmitter(0, x, [])
    tx = cpp_transmitters.weights_transmitter(4, x, np.ones(4))
    with pytest.raises(ValueError, match="weights has 5 values"):
        tx.set_weights([1.0] * 5)
    tx.set_constellation([1.0, -1.0])
    assert tx.constellation() == [1.0, -1.0]
