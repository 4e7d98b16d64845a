"""C++ radar channel (eq. 1): the kernel against isac_ae.channels.radar_response, the block's draws statistically."""

import math

import numpy as np
import pytest
import torch

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from isac_ae.array import impaired_positions, nominal_positions  # noqa: E402
from isac_ae.blocks import cpp_channels  # noqa: E402
from isac_ae.channels import radar_response  # noqa: E402
from isac_ae.impairments import ArrayModel  # noqa: E402

from ..helpers import Z, proportion_tolerance  # noqa: E402

K = 16


def _crandn(rng, *shape):
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)).astype(np.complex64)


def _out(k=K):
    return [("c", k), ("b", 1), ("f", 1)]  # z_r, t, theta


@pytest.mark.parametrize("positions", [nominal_positions(K), impaired_positions(K, 1 / 30, seed=2, model="scaled")])
def test_kernel_matches_core(cpp, rng, positions):
    n = 20_000
    pos = positions.astype(np.float32)
    y = _crandn(rng, n, K)
    theta = rng.uniform(-math.pi / 2, math.pi / 2, n).astype(np.float32)
    alpha = 3 * _crandn(rng, n)
    alpha[::5] = 0  # no target
    noise = _crandn(rng, n, K)
    ref = radar_response(
        torch.from_numpy(y), torch.from_numpy(theta), torch.from_numpy(alpha), ArrayModel.from_positions(pos)
    )
    ref = ref.numpy()
    scale = (np.abs(alpha) * math.sqrt(K))[:, None]  # typical size of an echo sample
    echo = cpp.radar_echo(y, theta, alpha, pos)
    # float32 tolerance: both evaluate 16 phases up to 2 pi 7.5 rad in float32 (relative errors ~1e-5).
    assert np.all(np.abs(echo - ref) <= 1e-4 * scale)
    assert np.all(echo[::5] == 0)
    # ... and the kernel is as accurate as the core against a float64 evaluation.
    a = np.exp(-2j * np.pi * np.outer(np.sin(theta.astype(np.float64)), pos.astype(np.float64)))
    exact = (alpha * np.sum(a * y, axis=1))[:, None] * a
    assert np.max(np.abs(echo - exact) / scale.clip(1e-30)) <= 2 * np.max(np.abs(ref - exact) / scale.clip(1e-30))
    z = cpp.radar_echo(y, theta, alpha, pos, noise)
    assert np.all(np.abs(z - (ref + noise)) <= 1e-4 * scale + 1e-6)
    a = cpp.steering_vector(pos, theta[0])
    np.testing.assert_allclose(a, np.exp(-2j * np.pi * pos * np.sin(np.float64(theta[0]))), atol=1e-5)


def test_kernel_rejects_bad_shapes(cpp):
    pos = nominal_positions(4)
    with pytest.raises(ValueError, match="K = len"):
        cpp.radar_echo(np.zeros((3, 5), np.complex64), np.zeros(3), np.zeros(3), pos)
    with pytest.raises(ValueError, match="alpha"):
        cpp.radar_echo(np.zeros((3, 4), np.complex64), np.zeros(3), np.zeros(2), pos)
    with pytest.raises(ValueError, match="noise"):
        cpp.radar_echo(np.zeros((3, 4), np.complex64), np.zeros(3), np.zeros(3), pos, np.zeros((2, 4)))


def test_block_draws_follow_the_model(run_rep):
    """y = e_0 (a(theta)^T y = 1): z = t alpha a(theta) + n; checks t, theta, alpha, n and that theta is the
    angle used."""
    n, snr_db, p, sector = 100_000, 3.0, 0.3, (-20.0, 20.0)
    block = cpp_channels.radar_channel(K, (), snr_db, sector, p, seed=21)
    e0 = np.zeros(K, np.complex64)
    e0[0] = 1
    z, t, theta = run_rep(block, [e0], n, _out())
    assert z.shape == (n, K) and set(np.unique(t)) <= {0, 1}
    assert abs(t.mean() - p) < proportion_tolerance(p, n)
    lo, hi = np.deg2rad(sector)
    assert theta.min() >= np.float32(lo) and theta.max() <= np.float32(hi)
    assert abs(theta.mean() - (lo + hi) / 2) < Z * (hi - lo) / math.sqrt(12 * n)
    # Without a target: z = n ~ CN(0, I).
    noise = z[t == 0]
    m = noise.size
    assert abs(np.mean(np.abs(noise) ** 2) - 1) < Z / math.sqrt(m)
    assert abs(np.mean(noise.real)) < Z * math.sqrt(0.5 / m)
    # With a target: a(theta)^H z / K = alpha + w, w ~ CN(0, 1/K): E|.|^2 = sigma_r^2 + 1/K (exponential).
    a = np.exp(-2j * np.pi * np.outer(np.sin(theta[t == 1].astype(np.float64)), nominal_positions(K)))
    proj = np.sum(a.conj() * z[t == 1], axis=1) / K
    expected = 10 ** (snr_db / 10) + 1 / K
    m1 = len(proj)
    assert abs(np.mean(np.abs(proj) ** 2) / expected - 1) < Z / math.sqrt(m1)
    # The part of z orthogonal to a(theta) is noise only: (K - 1) / K of the power.
    resid = z[t == 1] - (proj[:, None] * a)
    assert abs(np.mean(np.sum(np.abs(resid) ** 2, axis=1)) / (K - 1) - 1) < Z / math.sqrt(m1 * (K - 1))


def test_same_seed_same_output_regardless_of_chunking(run_rep, rng):
    y = _crandn(rng, K)
    first = run_rep(cpp_channels.radar_channel(K, (), 0.0, seed=5), [y], 3000, _out())
    again = run_rep(cpp_channels.radar_channel(K, (), 0.0, seed=5), [y], 3000, _out(), max_noutput_items=13)
    other = run_rep(cpp_channels.radar_channel(K, (), 0.0, seed=6), [y], 3000, _out())
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    # A comm channel with the same seed draws from a different stream.
    comm = run_rep(cpp_channels.comm_channel(K, (), 0.0, seed=5), [y, y], 3000, [("c", 1), ("c", 1), ("f", 1)])
    assert not np.allclose(np.sort(comm[2]), np.sort(first[2]))


def test_setters_and_extreme_probabilities(run_rep):
    block = cpp_channels.radar_channel(8, (), 0.0, (-20.0, 20.0), 0.5, seed=2)
    block.set_p_target(1.0)
    block.set_snr_db(10.0)
    block.set_sector(5.0, 6.0)  # degrees, as the constructor
    assert block.p_target() == 1.0 and block.snr_db() == 10.0 and block.sector() == [5.0, 6.0]
    e0 = np.zeros(8, np.complex64)
    e0[0] = 1
    _, t, theta = run_rep(block, [e0], 2000, _out(8))
    assert t.all()
    assert theta.min() >= np.float32(math.radians(5)) and theta.max() <= np.float32(math.radians(6))
    block.set_p_target(0.0)
    z, t, _ = run_rep(block, [e0], 2000, _out(8))
    assert not t.any()
    with pytest.raises(ValueError, match="p_target"):
        block.set_p_target(1.5)
    for bad in [(6.0, 5.0), (-91.0, 0.0), (float("nan"), 0.0), (0.0, float("inf"))]:
        with pytest.raises(ValueError, match=r"sector must satisfy -90 <= min <= max <= 90 \(degrees\)"):
            block.set_sector(*bad)
    assert block.sector() == [5.0, 6.0]  # a refused sector leaves the block as it was


def test_sector_setter_takes_degrees_as_the_constructor_does(run_rep, rng):
    """The same seed, sector given at construction or by the setter: the same draws, bit for bit."""
    y = _crandn(rng, K)
    built = cpp_channels.radar_channel(K, (), 0.0, (-10.0, 30.0), 0.5, seed=4)
    moved = cpp_channels.radar_channel(K, (), 0.0, (-20.0, 20.0), 0.5, seed=4)
    moved.set_sector(-10.0, 30.0)
    for a, b in zip(run_rep(built, [y], 3000, _out(K)), run_rep(moved, [y], 3000, _out(K))):
        np.testing.assert_array_equal(a, b)


def test_bad_parameters_raise_value_error():
    with pytest.raises(ValueError, match="positions has 2 values but K = 16"):
        cpp_channels.radar_channel(16, [0.0, 0.5])
    with pytest.raises(ValueError, match="p_target"):
        cpp_channels.radar_channel(16, (), 0.0, (-20.0, 20.0), -0.1)
    with pytest.raises(ValueError, match="sector"):
        cpp_channels.radar_channel(16, (), 0.0, (-100.0, 20.0))
    with pytest.raises(ValueError, match="SNR"):
        cpp_channels.radar_channel(16, (), float("inf"))
    with pytest.raises(ValueError, match="SNR"):
        cpp_channels.radar_channel(16, (), 1e6)
    with pytest.raises(ValueError, match="p_target"):
        cpp_channels.radar_channel(16, (), 0.0, (-20.0, 20.0), float("nan"))
    with pytest.raises(ValueError, match="sector"):
        cpp_channels.radar_channel(16, (), 0.0, (20.0, -20.0))  # reversed
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4096\]"):
        cpp_channels.radar_channel(2**40)  # pybind11's int would refuse it with a multi-line TypeError
    with pytest.raises(ValueError, match="K must be an integer"):
        cpp_channels.radar_channel(16.5)
    with pytest.raises(ValueError, match="seed must be an integer"):
        cpp_channels.radar_channel(16, (), 0.0, (-20.0, 20.0), 0.5, seed=2**63)
    with pytest.raises(ValueError, match="seed must be an integer"):
        cpp_channels.radar_channel(16, (), 0.0, (-20.0, 20.0), 0.5, seed=1.5)
    with pytest.raises(ValueError, match="within"):
        cpp_channels.radar_channel(2, [0.0, 1e30])  # finite, but float32 phases of it mean nothing
    cpp_channels.radar_channel(16, (), 0.0, (-20.0, 20.0), 0.5, seed=-1)  # < 0: a seed from the OS
