"""C++ comm channel (eq. 2): the kernel against the core on the same draws, the block's draws statistically."""

import math

import numpy as np
import pytest
import torch

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from isac_ae.array import impaired_positions, nominal_positions, steering  # noqa: E402
from isac_ae.blocks import cpp_channels  # noqa: E402

from ..helpers import Z  # noqa: E402

K = 16
OUT = [("c", 1), ("c", 1), ("f", 1)]  # z_c, kappa, vartheta


def _crandn(rng, *shape):
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize("positions", [nominal_positions(K), impaired_positions(K, 1 / 30, seed=2)])
def test_kernel_matches_core(cpp, rng, positions):
    n = 20_000
    pos = positions.astype(np.float32)
    y, v = _crandn(rng, n, K), _crandn(rng, n, K)
    vartheta = rng.uniform(-math.pi / 2, math.pi / 2, n).astype(np.float32)
    beta, noise = 10 * _crandn(rng, n), _crandn(rng, n)
    z, kappa = cpp.comm_observation(y, v, vartheta, beta, pos, noise)
    # The core's expressions (CommChannel.__call__) on the same draws.
    a = steering(torch.from_numpy(pos), torch.from_numpy(vartheta))
    tb, ty, tv = torch.from_numpy(beta), torch.from_numpy(y), torch.from_numpy(v)
    z_ref = (tb * (a * ty).sum(-1) + torch.from_numpy(noise)).numpy()
    kappa_ref = (tb * (a * tv).sum(-1)).numpy()
    scale = np.abs(beta) * math.sqrt(K)  # typical size of beta a^T y
    # float32 tolerance: both evaluate 16 phases up to 2 pi 7.5 rad in float32 (relative errors ~1e-5).
    assert np.all(np.abs(z - z_ref) <= 1e-4 * scale + 1e-6)
    assert np.all(np.abs(kappa - kappa_ref) <= 1e-4 * scale)
    # ... and the kernel is as accurate as the core against a float64 evaluation.
    a64 = np.exp(-2j * np.pi * np.outer(np.sin(vartheta.astype(np.float64)), pos.astype(np.float64)))
    exact = beta * np.sum(a64 * v, axis=1)
    assert np.max(np.abs(kappa - exact) / scale) <= 2 * np.max(np.abs(kappa_ref - exact) / scale)
    # One beamformer (K,) for every snapshot, and no noise.
    z1, k1 = cpp.comm_observation(y, v[0], vartheta, beta, pos)
    k1_ref = (tb * (a * tv[0]).sum(-1)).numpy()
    assert np.all(np.abs(k1 - k1_ref) <= 1e-4 * scale)
    np.testing.assert_allclose(z1 + noise, z, rtol=0, atol=1e-6 * scale.max())


def test_kernel_rejects_bad_shapes(cpp):
    pos = nominal_positions(4)
    y = np.zeros((3, 4), np.complex64)
    with pytest.raises(ValueError, match="K = len"):
        cpp.comm_observation(np.zeros((3, 5), np.complex64), y, np.zeros(3), np.zeros(3), pos)
    with pytest.raises(ValueError, match="vartheta"):
        cpp.comm_observation(y, y, np.zeros(2), np.zeros(3), pos)


def test_block_draws_follow_the_model(run_rep):
    """y = 0 and v = e_0: z_c = n, kappa = beta (a_0 = 1 since p_0 = 0)."""
    n, snr_db, sector = 200_000, 20.0, (30.0, 50.0)
    block = cpp_channels.comm_channel(K, (), snr_db, sector, seed=11)
    e0 = np.zeros(K, np.complex64)
    e0[0] = 1
    z, kappa, vartheta = run_rep(block, [np.zeros(K), e0], n, OUT)
    assert len(z) == len(kappa) == len(vartheta) == n
    tol = Z / math.sqrt(n)
    # Noise CN(0, 1): mean power 1, zero mean, circular.
    assert abs(np.mean(np.abs(z) ** 2) - 1) < tol * 1.0  # |n|^2 ~ Exp(1): std 1
    assert abs(np.mean(z.real)) < tol * math.sqrt(0.5) and abs(np.mean(z.imag)) < tol * math.sqrt(0.5)
    assert abs(np.mean(z.real**2) - 0.5) < tol * math.sqrt(0.5)  # Var(x^2) = 2 (1/2)^2
    # beta ~ CN(0, sigma_c^2), sigma_c^2 = 10^(SNR/10).
    sigma2 = 10 ** (snr_db / 10)
    assert abs(np.mean(np.abs(kappa) ** 2) / sigma2 - 1) < tol
    # vartheta ~ U[30 deg, 50 deg): range, mean, variance.
    lo, hi = np.deg2rad(sector)
    assert vartheta.min() >= np.float32(lo) and vartheta.max() <= np.float32(hi)
    width = hi - lo
    assert abs(vartheta.mean() - (lo + hi) / 2) < tol * width / math.sqrt(12)
    assert abs(vartheta.var() / (width**2 / 12) - 1) < tol * math.sqrt(0.8)  # Var(U^2)/E^2 for a uniform: 4/5


def test_block_vartheta_is_the_angle_used(run_rep, rng):
    """y = c v: z - c kappa = n, and |kappa|^2 / |a(vartheta)^T v|^2 = |beta|^2 has mean sigma_c^2."""
    n, c = 100_000, 0.6 - 0.8j
    v = _crandn(rng, K)
    v /= np.linalg.norm(v)
    block = cpp_channels.comm_channel(K, (), 10.0, (-60.0, 60.0), seed=3)
    z, kappa, vartheta = run_rep(block, [c * v, v], n, OUT)
    residual = z - np.complex64(c) * kappa
    assert abs(np.mean(np.abs(residual) ** 2) - 1) < Z / math.sqrt(n)
    a = np.exp(-2j * np.pi * np.outer(np.sin(vartheta.astype(np.float64)), nominal_positions(K)))
    gain = np.abs(a @ v) ** 2
    keep = gain > 1e-2  # avoid dividing by a beam null
    beta2 = np.abs(kappa[keep]) ** 2 / gain[keep]
    assert abs(beta2.mean() / 10.0 - 1) < Z / math.sqrt(keep.sum())


def test_same_seed_same_output_regardless_of_chunking(run_rep, rng):
    y = _crandn(rng, K)
    v = _crandn(rng, K)
    first = run_rep(cpp_channels.comm_channel(K, (), 20.0, seed=5), [y, v], 5000, OUT)
    again = run_rep(cpp_channels.comm_channel(K, (), 20.0, seed=5), [y, v], 5000, OUT, max_noutput_items=37)
    other = run_rep(cpp_channels.comm_channel(K, (), 20.0, seed=6), [y, v], 5000, OUT)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_setters(run_rep):
    block = cpp_channels.comm_channel(K, (), 20.0, (30.0, 50.0), seed=1)
    block.set_snr_db(0.0)
    block.set_sector(-10.0, -5.0)  # degrees, as the constructor
    assert block.snr_db() == 0.0
    assert block.sector() == [-10.0, -5.0]
    e0 = np.zeros(K, np.complex64)
    e0[0] = 1
    n = 50_000
    _, kappa, vartheta = run_rep(block, [np.zeros(K), e0], n, OUT)
    assert abs(np.mean(np.abs(kappa) ** 2) - 1) < Z / math.sqrt(n)
    assert vartheta.min() >= np.float32(math.radians(-10)) and vartheta.max() <= np.float32(math.radians(-5))
    with pytest.raises(ValueError, match=r"sector must satisfy -90 <= min <= max <= 90 \(degrees\)"):
        block.set_sector(-5.0, -10.0)
    with pytest.raises(ValueError, match="sector"):
        block.set_sector(0.0, 95.0)
    with pytest.raises(ValueError, match="SNR"):
        block.set_snr_db(float("nan"))


def test_bad_parameters_raise_value_error():
    with pytest.raises(ValueError, match="positions has 3 values but K = 16"):
        cpp_channels.comm_channel(16, [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="K"):
        cpp_channels.comm_channel(0)
    with pytest.raises(ValueError, match="sector"):
        cpp_channels.comm_channel(16, (), 20.0, (50.0, 30.0))
    with pytest.raises(ValueError, match="sector"):
        cpp_channels.comm_channel(16, (), 20.0, (30.0, 95.0))
    with pytest.raises(ValueError, match="sector_deg"):
        cpp_channels.comm_channel(16, (), 20.0, (30.0,))
    with pytest.raises(ValueError, match="finite"):
        cpp_channels.comm_channel(2, [0.0, float("nan")])
    with pytest.raises(ValueError, match="sector"):
        cpp_channels.comm_channel(16, (), 20.0, (float("nan"), 50.0))
    with pytest.raises(ValueError, match="SNR"):
        cpp_channels.comm_channel(16, (), -1e9)
    with pytest.raises(ValueError, match="seed must be an integer"):
        cpp_channels.comm_channel(16, (), 20.0, (30.0, 50.0), seed=-(2**63) - 1)
    block = cpp_channels.comm_channel(4, [0.0, 0.4, 1.0, 1.7])
    np.testing.assert_allclose(block.positions(), [0.0, 0.4, 1.0, 1.7], rtol=1e-7)
    np.testing.assert_array_equal(cpp_channels.comm_channel(4).positions(), [0.0, 0.5, 1.0, 1.5])
