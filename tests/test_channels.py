import numpy as np
import pytest
import torch
from scipy import integrate

from isac_ae import Scenario
from isac_ae.array import steering_matrix
from isac_ae.baselines import ls_beam
from isac_ae.channels import Beamformed, CommChannel, RadarChannel

from .helpers import Z, proportion_tolerance

N = 200_000


def _beam(scenario):
    return torch.as_tensor(ls_beam(scenario.nominal_positions(), scenario.target_sector_rad), dtype=torch.complex64)


def test_noise_power_under_h0(scenario, generator):
    y = _beam(scenario).expand(N, -1)
    z = RadarChannel(scenario)(y, generator, target=False).z
    power = z.abs().square()  # Exp(N0) per element
    n = power.numel()
    assert abs(power.mean().item() - scenario.noise_power) < Z * scenario.noise_power / np.sqrt(n)
    # Circular symmetry: real and imaginary parts each carry N0 / 2, uncorrelated.
    assert abs(z.real.square().mean().item() - 0.5) < Z * np.sqrt(2 * 0.25 / n)
    assert abs((z.real * z.imag).mean().item()) < Z * 0.5 / np.sqrt(n)


@pytest.mark.parametrize("snr_radar_db", [0.0, 6.0])
def test_radar_echo_power_matches_configuration(snr_radar_db, generator):
    sc = Scenario(snr_radar_db=snr_radar_db)
    beam = _beam(sc)
    draw = RadarChannel(sc)(beam.expand(N, -1), generator, target=True)
    # E|z_k|^2 = N0 + sigma_r^2 E_theta |a(theta)^T y|^2 (|a_k| = 1), theta ~ U(sector).
    lo, hi = sc.target_sector_rad
    b = beam.numpy().astype(complex)
    gain, _ = integrate.quad(lambda t: abs(steering_matrix(sc.nominal_positions(), t)[:, 0] @ b) ** 2, lo, hi)
    expected = sc.noise_power + sc.radar_gain_var * gain / (hi - lo)
    power = draw.z.abs().square().mean(dim=1)  # per snapshot, mean over elements
    tol = Z * power.std().item() / np.sqrt(N)
    assert abs(power.mean().item() - expected) < tol
    assert abs(draw.alpha.abs().square().mean().item() - sc.radar_gain_var) < Z * sc.radar_gain_var / np.sqrt(N)
    assert draw.theta.min() >= lo and draw.theta.max() <= hi
    # theta ~ U[lo, hi]: mean and variance of a uniform.
    assert abs(draw.theta.double().mean().item() - (lo + hi) / 2) < Z * (hi - lo) / np.sqrt(12 * N)


def test_target_presence_is_bernoulli(generator):
    sc = Scenario(p_target=0.3)
    draw = RadarChannel(sc)(torch.zeros(N, 16, dtype=torch.complex64), generator)
    assert abs(draw.target.float().mean().item() - 0.3) < proportion_tolerance(0.3, N)


def test_grouped_targets_are_binomial_and_come_first(generator):
    # draw_grouped: the present count ~ Binomial(n, p), the present snapshots first.
    sc, n, batches = Scenario(p_target=0.3), 50, 4000
    y = torch.zeros(n, 16, dtype=torch.complex64)
    counts = []
    for _ in range(batches):
        t = RadarChannel(sc).draw_grouped(y, generator).target
        count = int(t.sum())
        assert t[:count].all() and not t[count:].any()
        counts.append(count)
    counts = np.array(counts, dtype=float)
    assert abs(counts.mean() - n * 0.3) < Z * np.sqrt(n * 0.3 * 0.7 / batches)
    # Binomial variance n p (1 - p); the sample variance's standard error is about var * sqrt(2 / batches).
    assert abs(counts.var() - n * 0.21) < Z * n * 0.21 * np.sqrt(2 / batches)
    with pytest.raises(ValueError, match="None or a bool"):
        RadarChannel(sc)(y, generator, target="sorted")


def test_grouped_reorders_a_channel_without_its_own_grouped_draw(generator):
    """A twin or captured data has no grouped draw: the trainer's helper reorders an ordinary one."""
    from isac_ae.channels import grouped

    sc = Scenario(p_target=0.4)
    channel = RadarChannel(sc)
    y = torch.randn(300, 16, dtype=torch.complex64, generator=generator)
    state = generator.get_state()
    plain = channel(y, generator)
    generator.set_state(state)
    draw = grouped(lambda y_, g: channel(y_, g), y, generator)
    count = int(plain.target.sum())
    assert draw.target[:count].all() and not draw.target[count:].any()
    # the same snapshots, present first, each keeping its own angle and observation
    torch.testing.assert_close(draw.z[:count], plain.z[plain.target])
    torch.testing.assert_close(draw.theta[count:], plain.theta[~plain.target])


def test_beamformed_signal_gives_the_dense_signals_observations(scenario):
    # y_n = x_n v kept factored: the same snapshots, echo gains and CSI as the (E, N, K) signal.
    gen = torch.Generator().manual_seed(5)
    symbols = torch.randn(3, 40, dtype=torch.complex64, generator=gen)
    beam = torch.randn(3, 16, dtype=torch.complex64, generator=gen)
    factored = Beamformed(symbols, beam)
    dense = symbols.unsqueeze(-1) * beam.unsqueeze(-2)
    assert factored.shape == dense.shape == (3, 40, 16)
    radar, comm = RadarChannel(scenario), CommChannel(scenario)
    rd_f, rd_d = radar(factored, torch.Generator().manual_seed(6)), radar(dense, torch.Generator().manual_seed(6))
    torch.testing.assert_close(rd_f.z, rd_d.z, rtol=1e-5, atol=1e-5)
    cd_f = comm(factored, torch.Generator().manual_seed(7))
    cd_d = comm(dense, torch.Generator().manual_seed(7), v=beam.unsqueeze(-2))
    torch.testing.assert_close(cd_f.z, cd_d.z, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cd_f.kappa, cd_d.kappa, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="beamformer"):
        comm(dense, gen)


def test_comm_channel_statistics_and_csi(scenario, generator):
    v = torch.as_tensor(ls_beam(scenario.nominal_positions(), scenario.comm_sector_rad), dtype=torch.complex64)
    x = torch.exp(1j * torch.pi / 4 * (2 * torch.randint(4, (N,), generator=generator) + 1)).to(torch.complex64)
    draw = CommChannel(scenario)(x.unsqueeze(-1) * v, generator, v=v)
    residual = draw.z - draw.kappa * x  # = noise, since y = v x
    assert abs(residual.abs().square().mean().item() - scenario.noise_power) < Z / np.sqrt(N)
    assert abs(draw.beta.abs().square().mean().item() - scenario.comm_gain_var) < Z * scenario.comm_gain_var / np.sqrt(
        N
    )
    lo, hi = scenario.comm_sector_rad
    assert draw.vartheta.min() >= lo and draw.vartheta.max() <= hi


def test_channels_are_differentiable_in_y(scenario, generator):
    y = torch.randn(64, 16, dtype=torch.complex64, requires_grad=True)
    rd = RadarChannel(scenario)(y, generator, target=True)
    cd = CommChannel(scenario)(y, generator, v=y.detach()[0])
    (rd.z.abs().square().sum() + cd.z.abs().square().sum()).backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_seed_makes_draws_repeatable(scenario):
    y = torch.ones(10, 16, dtype=torch.complex64) / 4
    first = RadarChannel(scenario)(y, torch.Generator().manual_seed(9))
    second = RadarChannel(scenario)(y, torch.Generator().manual_seed(9))
    assert torch.equal(first.z, second.z) and torch.equal(first.theta, second.theta)


def test_impaired_channel_uses_true_positions():
    sc = Scenario(spacing_std=1 / 30, impairment_seed=1)
    channel = RadarChannel(sc)
    np.testing.assert_allclose(channel.positions.numpy(), sc.true_positions(), rtol=1e-6)
    assert not np.allclose(sc.true_positions(), sc.nominal_positions())


def _explicit_manifolds(array, theta):
    """diag(g_tx) C^T a and diag(g_rx) C a (impairments' convention) written out in NumPy, each (N, K)."""
    p = array.positions.double().numpy()
    c = array.coupling.to(torch.complex128).numpy()
    a = np.exp(-2j * np.pi * np.outer(np.sin(theta), p))  # (N, K)
    g_tx, g_rx = array.gain_tx.to(torch.complex128).numpy(), array.gain_rx.to(torch.complex128).numpy()
    return g_tx * (a @ c), g_rx * (a @ c.T)


def test_channels_see_an_impaired_array_model(generator):
    """Gains and coupling of an ArrayModel enter eq. (1) and (2) as a_rx a_tx^T y and a_tx^T y: what is
    left after removing the explicitly computed echo / comm signal is exactly the N0 = 1 noise."""
    from isac_ae.impairments import ArrayModel, ImpairmentMagnitudes

    sc = Scenario(snr_radar_db=30.0, snr_comm_db=30.0)
    board = ArrayModel.draw(16, ImpairmentMagnitudes(gain_min=0.75, phase_std_deg=None, coupling_db=-15.0), seed=3)
    n = 20_000
    y = _beam(sc).expand(n, -1)
    rd = RadarChannel(sc, array=board)(y, generator, target=True)
    a_tx, a_rx = _explicit_manifolds(board, rd.theta.double().numpy())
    echo = rd.alpha.numpy()[:, None] * a_rx * (a_tx @ _beam(sc).numpy())[:, None]
    residual = rd.z.numpy() - echo
    m = residual.size
    assert abs(np.mean(np.abs(residual) ** 2) - 1.0) < Z / np.sqrt(m)  # Exp(1) has unit std
    cd = CommChannel(sc, array=board)(y, generator, v=_beam(sc))
    a_tx, _ = _explicit_manifolds(board, cd.vartheta.double().numpy())
    kappa = cd.beta.numpy() * (a_tx @ _beam(sc).numpy())
    np.testing.assert_allclose(cd.kappa.numpy(), kappa, rtol=1e-4, atol=1e-4 * np.abs(kappa).max())
    assert abs(np.mean(np.abs(cd.z.numpy() - kappa) ** 2) - 1.0) < Z / np.sqrt(n)  # y = v: z - kappa is the noise
    with pytest.raises(ValueError, match="8 elements"):
        RadarChannel(sc, array=ArrayModel.nominal(8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_channels_run_on_cuda(scenario):
    gen = torch.Generator(device="cuda").manual_seed(0)
    y = torch.ones(8, 16, dtype=torch.complex64, device="cuda") / 4
    assert RadarChannel(scenario, device="cuda")(y, gen).z.device.type == "cuda"
