"""The array impairment model and the signal impairments, against their definitions."""

import json
import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.array import beampattern, nominal_positions, steering
from isac_ae.impairments import (
    ADAR1000_PHASE_STEP_DEG,
    ArrayModel,
    ImpairmentMagnitudes,
    adar1000_codes,
    adc_quantise,
    add_noise,
    apply_cfo,
    nearest_neighbour_coupling,
    quantise_adar1000,
    quantise_adar1000_ste,
)

from .helpers import Z, proportion_tolerance

BOARD = ImpairmentMagnitudes(
    gain_min=0.75,
    phase_std_deg=None,
    coupling_db=(-25.0, -15.0),
    spacing_std=1 / 30,
    channel_mismatch_db=1.4,
    rx_channels=2,
)
ANGLES = torch.linspace(-1.4, 1.4, 57, dtype=torch.float64)


def numpy_model(model):
    names = ("positions", "gain_tx", "gain_rx", "coupling")
    return {name: getattr(model, name).detach().cpu().numpy() for name in names}


# --- manifolds -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nominal_model_is_array_steering_exactly(dtype):
    model = ArrayModel.nominal(16, dtype=dtype)
    theta = torch.linspace(-1.5, 1.5, 301, dtype=dtype).reshape(7, 43)
    expected = steering(torch.as_tensor(nominal_positions(16), dtype=dtype), theta)
    assert torch.equal(model.steering_tx(theta), expected)
    assert torch.equal(model.steering_rx(theta), expected)


def test_spacing_only_draw_has_the_scenarios_true_positions():
    for model_name in ("cumulative", "scaled"):
        scenario = Scenario(spacing_std=1 / 15, impairment_seed=7, position_model=model_name)
        magnitudes = ImpairmentMagnitudes(spacing_std=1 / 15, position_model=model_name)
        drawn = ArrayModel.draw(16, magnitudes, seed=7, dtype=torch.float64)
        np.testing.assert_array_equal(drawn.positions.numpy(), scenario.true_positions())


def test_manifolds_against_the_explicit_sums():
    """z_k = g_rx,k sum_j C_kj a_j (reception) and sum_k sum_j a_j C_jk g_tx,k y_k (transmission)."""
    model = ArrayModel.draw(6, BOARD, seed=11, dtype=torch.float64)
    m = numpy_model(model)
    k = model.num_elements
    y = np.random.default_rng(0).standard_normal(k) + 1j * np.random.default_rng(1).standard_normal(k)
    # The drawn C is symmetric; an asymmetric one tells C from C^T.
    c = m["coupling"] + 0.05j * np.triu(np.ones((k, k)), 1)
    model = ArrayModel(model.positions, model.gain_tx, model.gain_rx, torch.as_tensor(c))
    for theta in ANGLES.tolist():
        a = [np.exp(-2j * np.pi * m["positions"][j] * math.sin(theta)) for j in range(k)]
        received = [m["gain_rx"][i] * sum(c[i, j] * a[j] for j in range(k)) for i in range(k)]
        field = sum(a[j] * c[j, i] * m["gain_tx"][i] * y[i] for i in range(k) for j in range(k))
        t = torch.tensor(theta, dtype=torch.float64)
        np.testing.assert_allclose(model.steering_rx(t).numpy(), received, rtol=0, atol=1e-12)
        np.testing.assert_allclose((model.steering_tx(t).numpy() * y).sum(), field, rtol=0, atol=1e-12)


def test_coupling_matrix_is_the_symmetric_toeplitz_of_powers():
    c1 = 0.1 * np.exp(0.7j)
    c = nearest_neighbour_coupling(5, c1, dtype=torch.complex128).numpy()
    for i in range(5):
        for j in range(5):
            assert c[i, j] == pytest.approx(c1 ** abs(i - j), abs=1e-15)


@pytest.mark.parametrize("name", ["positions", "gain_tx", "gain_rx", "coupling", "theta"])
def test_gradients_flow_through_both_manifolds(name):
    base = ArrayModel.draw(4, BOARD, seed=5, dtype=torch.float64)
    inputs = {f: getattr(base, f).clone() for f in ("positions", "gain_tx", "gain_rx", "coupling")}
    inputs["theta"] = torch.tensor([-0.3, 0.1, 0.8], dtype=torch.float64)

    def manifolds(x):
        args = dict(inputs, **{name: x})
        model = ArrayModel(args["positions"], args["gain_tx"], args["gain_rx"], args["coupling"])
        return model.steering_tx(args["theta"]), model.steering_rx(args["theta"])

    assert torch.autograd.gradcheck(manifolds, (inputs[name].requires_grad_(),))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cpu_and_cuda_agree():
    cpu = ArrayModel.draw(16, BOARD, seed=3)
    cuda = ArrayModel.draw(16, BOARD, seed=3, device="cuda")
    theta = torch.linspace(-1.0, 1.0, 1001)
    for manifold in ("steering_tx", "steering_rx"):
        got = getattr(cuda, manifold)(theta.cuda()).cpu()
        torch.testing.assert_close(got, getattr(cpu, manifold)(theta), rtol=1e-5, atol=1e-5)
    w = torch.randn(64, 8, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(quantise_adar1000(w.cuda()).cpu(), quantise_adar1000(w), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(cpu.to("cuda").steering_rx(theta.cuda()).cpu(), cpu.steering_rx(theta))


# --- draw -------------------------------------------------------------------------------
def test_draw_is_reproducible_and_depends_on_the_seed():
    first = ArrayModel.draw(8, BOARD, seed=42).to_dict()
    assert ArrayModel.draw(8, BOARD, seed=42).to_dict() == first
    assert ArrayModel.draw(8, BOARD, seed=43).to_dict() != first


def test_draw_respects_gain_and_phase_magnitudes():
    k = 4000
    normal = ArrayModel.draw(k, ImpairmentMagnitudes(gain_min=0.75, phase_std_deg=10.0), seed=1, dtype=torch.float64)
    for gains in (normal.gain_tx, normal.gain_rx):
        amplitude = gains.abs().numpy()
        assert amplitude.min() >= 0.75 and amplitude.max() <= 1.0
        # Uniform on [0.75, 1]: mean 0.875, std 0.25 / sqrt(12).
        assert abs(amplitude.mean() - 0.875) < Z * 0.25 / math.sqrt(12 * k)
        phase_std = math.degrees(gains.angle().numpy().std())
        assert abs(phase_std - 10.0) < Z * 10.0 / math.sqrt(2 * k)
    uniform = ArrayModel.draw(k, ImpairmentMagnitudes(phase_std_deg=None), seed=1, dtype=torch.float64)
    phase = uniform.gain_rx.angle().numpy()
    assert abs(np.exp(1j * phase).mean()) < Z / math.sqrt(2 * k)
    assert abs(np.mean(np.abs(phase) > np.pi / 2) - 0.5) < proportion_tolerance(0.5, k)


def test_draw_respects_coupling_spacing_and_channel_mismatch():
    for seed in range(20):
        model = ArrayModel.draw(8, BOARD, seed=seed, dtype=torch.float64)
        c = model.coupling.numpy()
        level_db = 20 * math.log10(abs(c[0, 1]))
        assert -25.0 <= level_db <= -15.0
        np.testing.assert_allclose(c, c.T, rtol=0, atol=0)
        np.testing.assert_allclose(c[0, 2], c[0, 1] ** 2, rtol=1e-12)
        np.testing.assert_array_equal(np.diag(c), np.ones(8))

    spaced = ImpairmentMagnitudes(spacing_wavelengths=(0.48, 0.51))
    for seed in range(20):
        p = ArrayModel.draw(8, spaced, seed=seed, dtype=torch.float64).positions.numpy()
        spacing = np.diff(p)
        np.testing.assert_allclose(spacing, spacing[0], rtol=1e-12)
        assert 0.48 <= spacing[0] <= 0.51

    mismatch = ImpairmentMagnitudes(channel_mismatch_db=1.4, rx_channels=2)
    for seed in range(20):
        model = ArrayModel.draw(8, mismatch, seed=seed, dtype=torch.float64)
        np.testing.assert_array_equal(model.gain_tx.numpy(), np.ones(8))
        rx = model.gain_rx.numpy()
        assert np.all(rx.imag == 0)
        groups_db = 20 * np.log10(rx.real.reshape(2, 4))
        np.testing.assert_allclose(groups_db, groups_db[:, :1].repeat(4, 1), rtol=0, atol=1e-12)
        assert np.all(groups_db <= 0) and np.all(groups_db >= -1.4)


def test_one_magnitude_does_not_change_the_other_draws():
    with_coupling = ArrayModel.draw(8, BOARD, seed=9)
    without = ArrayModel.draw(8, ImpairmentMagnitudes(**{**BOARD.__dict__, "coupling_db": None}), seed=9)
    assert torch.equal(with_coupling.gain_rx, without.gain_rx)
    assert torch.equal(with_coupling.positions, without.positions)
    assert torch.equal(without.coupling, torch.eye(8, dtype=torch.complex64))


def test_phase_drift_turns_the_gains_only():
    k = 4000
    model = ArrayModel.draw(k, ImpairmentMagnitudes(gain_min=0.8, phase_std_deg=None), seed=2, dtype=torch.float64)
    drifted = model.with_phase_drift(2.0, seed=5)
    assert torch.equal(drifted.with_phase_drift(0.0, seed=1).gain_tx, drifted.gain_tx)
    again = model.with_phase_drift(2.0, seed=5)
    assert torch.equal(again.gain_tx, drifted.gain_tx) and torch.equal(again.gain_rx, drifted.gain_rx)
    assert not torch.equal(model.with_phase_drift(2.0, seed=6).gain_rx, drifted.gain_rx)
    for before, after in ((model.gain_tx, drifted.gain_tx), (model.gain_rx, drifted.gain_rx)):
        np.testing.assert_allclose(after.abs().numpy(), before.abs().numpy(), rtol=1e-12)
        turn = np.degrees(np.angle(after.numpy() / before.numpy()))
        assert abs(turn.std() - 2.0) < Z * 2.0 / math.sqrt(2 * k)
    assert torch.equal(drifted.coupling, model.coupling)


# --- serialisation, precision, bad input -------------------------------------------------
def test_dict_round_trip_is_exact_through_json():
    model = ArrayModel.draw(8, BOARD, seed=4, dtype=torch.float64)
    back = ArrayModel.from_dict(json.loads(json.dumps(model.to_dict())), dtype=torch.float64)
    for name in ("positions", "gain_tx", "gain_rx", "coupling"):
        assert torch.equal(getattr(back, name), getattr(model, name))


def test_to_changes_precision_of_every_tensor():
    model = ArrayModel.draw(8, BOARD, seed=4).to(dtype=torch.float64)
    assert model.positions.dtype == torch.float64 and model.coupling.dtype == torch.complex128
    theta = torch.tensor([0.2], dtype=torch.float64)
    assert model.steering_rx(theta).dtype == torch.complex128


def test_bad_input_is_refused_with_a_named_reason():
    with pytest.raises(ValueError, match="gain_min"):
        ImpairmentMagnitudes(gain_min=0.0)
    with pytest.raises(ValueError, match="coupling_db"):
        ImpairmentMagnitudes(coupling_db=3.0)
    with pytest.raises(ValueError, match="spacing_wavelengths"):
        ImpairmentMagnitudes(spacing_wavelengths=(0.51, 0.48))
    with pytest.raises(ValueError, match="position_model"):
        ImpairmentMagnitudes(position_model="other")
    with pytest.raises(ValueError, match="RX channels"):
        ArrayModel.draw(6, ImpairmentMagnitudes(rx_channels=4), seed=0)
    with pytest.raises(ValueError, match="seed"):
        ArrayModel.draw(6, BOARD, seed=-1)
    nominal = ArrayModel.nominal(4)
    with pytest.raises(ValueError, match="coupling"):
        ArrayModel(nominal.positions, nominal.gain_tx, nominal.gain_rx, torch.eye(4, dtype=torch.complex128))
    data = nominal.to_dict()
    with pytest.raises(ValueError, match="gain_rx"):
        ArrayModel.from_dict({k: v for k, v in data.items() if k != "gain_rx"})
    with pytest.raises(ValueError, match="format"):
        ArrayModel.from_dict({**data, "format": "other"})
    with pytest.raises(ValueError, match="coupling"):
        ArrayModel.from_dict({**data, "coupling": "zeros"})


# --- ADAR1000 weights --------------------------------------------------------------------
def test_quantised_beampattern_equals_the_pattern_of_the_rounded_codes():
    rng = np.random.default_rng(8)
    positions = nominal_positions(8)
    w = np.exp(2j * np.pi * positions * math.sin(math.radians(25))) * rng.uniform(0.3, 1.0, 8)
    w = w * np.exp(1j * rng.uniform(-0.2, 0.2, 8))

    # By hand: the nearest phase step and the nearest gain code relative to the largest element.
    phase_code = np.round(np.degrees(np.angle(w)) / 2.8125) % 128
    gain_code = np.round(127 * np.abs(w) / np.abs(w).max())
    by_hand = np.abs(w).max() * gain_code / 127 * np.exp(1j * np.radians(phase_code * 2.8125))

    quantised = quantise_adar1000(torch.as_tensor(w)).numpy()
    angles = np.radians(np.linspace(-90, 90, 721))
    np.testing.assert_allclose(
        beampattern(positions, quantised, angles), beampattern(positions, by_hand, angles), rtol=1e-12, atol=1e-12
    )
    assert not np.allclose(beampattern(positions, w, angles), beampattern(positions, quantised, angles), rtol=1e-4)
    gains, phases = adar1000_codes(torch.as_tensor(w))
    np.testing.assert_array_equal(gains.numpy(), gain_code)
    np.testing.assert_array_equal(phases.numpy(), phase_code)
    assert ADAR1000_PHASE_STEP_DEG == 360 / 128


def test_quantised_weights_are_exact_code_pairs():
    w = torch.randn(200, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    q = quantise_adar1000(w)
    scale = w.abs().amax(-1, keepdim=True)
    steps = torch.angle(q) / math.radians(ADAR1000_PHASE_STEP_DEG)
    torch.testing.assert_close(steps, steps.round(), rtol=0, atol=1e-9)
    codes = q.abs() / scale * 127
    torch.testing.assert_close(codes, codes.round(), rtol=0, atol=1e-9)
    zeros = torch.zeros(3, 8, dtype=torch.complex64)
    assert torch.equal(quantise_adar1000(zeros), zeros)


def test_straight_through_estimator():
    w = torch.randn(5, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(2), requires_grad=True)
    c = torch.randn(5, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(3))
    q = quantise_adar1000_ste(w)
    assert torch.equal(q.detach(), quantise_adar1000(w.detach()))
    (grad_ste,) = torch.autograd.grad((q * c).real.sum(), w)
    (grad_identity,) = torch.autograd.grad((w * c).real.sum(), w)
    assert torch.equal(grad_ste, grad_identity)


# --- signal impairments -------------------------------------------------------------------
@pytest.mark.parametrize("bits", [8, 10, 12])
@pytest.mark.parametrize("complex_input", [False, True])
def test_adc_sqnr_of_a_full_scale_sine(bits, complex_input):
    n = 1 << 16
    step = 2.0 / 2**bits
    amplitude = 1.0 - step / 2  # the largest sine that does not clip (top code is 1 - step)
    phase = 2 * np.pi * 0.1234567 * np.arange(n)
    x = amplitude * (np.exp(1j * phase) if complex_input else np.cos(phase))
    error = adc_quantise(torch.as_tensor(x), bits).numpy() - x
    sqnr_db = 10 * math.log10(np.mean(np.abs(x) ** 2) / np.mean(np.abs(error) ** 2))
    assert abs(sqnr_db - (6.02 * bits + 1.76)) < 0.5


def test_adc_codes_and_clipping():
    x = torch.tensor([-5.0, -1.0, -0.3, 0.0, 0.2, 0.999, 5.0], dtype=torch.float64)
    q = adc_quantise(x, 12, full_scale=1.0)
    codes = q * 2048
    torch.testing.assert_close(codes, codes.round(), rtol=0, atol=0)
    assert q.min() == -1.0 and q.max() == 2047 / 2048
    assert torch.equal(adc_quantise(x * 2, 12, full_scale=2.0), q * 2)
    with pytest.raises(ValueError, match="bits"):
        adc_quantise(x, 0)


def test_cfo_phase_ramp_matches_the_closed_form_and_continues_across_buffers():
    n, fs, cfo, phase0 = 200_000, 1e6, 1234.5, 0.3
    x = torch.ones(2, n, dtype=torch.complex64)
    got = apply_cfo(x, cfo, fs, phase_rad=phase0).numpy()
    expected = np.exp(1j * (2 * np.pi * cfo * np.arange(n) / fs + phase0))
    np.testing.assert_allclose(got[1], expected, rtol=0, atol=2e-6)
    halves = [
        apply_cfo(x[:, : n // 2], cfo, fs, phase_rad=phase0),
        apply_cfo(x[:, n // 2 :], cfo, fs, phase_rad=phase0, start=n // 2),
    ]
    np.testing.assert_allclose(torch.cat(halves, -1).numpy(), got, rtol=0, atol=1e-6)
    # Time along the first dimension: the ramp runs down the rows.
    rows = apply_cfo(torch.ones(n, 3, dtype=torch.complex128), cfo, fs, dim=0).numpy()
    np.testing.assert_allclose(rows[:, 2], np.exp(2j * np.pi * cfo * np.arange(n) / fs), rtol=0, atol=1e-9)


def test_cfo_is_differentiable_in_the_offset():
    cfo = torch.tensor(50.0, dtype=torch.float64, requires_grad=True)
    y = apply_cfo(torch.ones(10, dtype=torch.complex128), cfo, 1000.0)
    (grad,) = torch.autograd.grad(y.imag[3], cfo)
    # d/df sin(2 pi f n / fs) at n = 3.
    assert grad.item() == pytest.approx(2 * np.pi * 3 / 1000.0 * math.cos(2 * np.pi * 50.0 * 3 / 1000.0), rel=1e-9)


def test_additive_noise_power_and_seed():
    n, power = 200_000, 0.25
    x = torch.zeros(n, dtype=torch.complex64)
    noise = add_noise(x, power, torch.Generator().manual_seed(0))
    # |n|^2 is exponential with mean and standard deviation equal to the power.
    assert abs(noise.abs().square().mean().item() - power) < Z * power / math.sqrt(n)
    assert abs(noise.real.square().mean().item() - power / 2) < Z * power / 2 * math.sqrt(2 / n)
    assert torch.equal(add_noise(x, power, torch.Generator().manual_seed(0)), noise)
