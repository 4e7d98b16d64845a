"""Fine-tuning method (a), the surrogate, on the Quad-MxFE twin: the array model fitted to a manifold measured
through pyadi-iio and the emulator recovers the hidden truth within tolerances derived from the measurement's
SNR and grid, explains the manifold down to its noise, and fine-tuning the shipped nominal model through it
lowers J_ISAC on the twin's true channels by more than the held-out set's sampling error."""

import dataclasses

import numpy as np
import pytest
import torch

from isac_ae.autoencoder.modelfile import load_model
from isac_ae.autoencoder.system import AutoencoderSystem
from isac_ae.channels import Channels
from isac_ae.hw.calibrated import CalibratedSystem
from isac_ae.hw.calibration import calibrate_digital
from isac_ae.hw.device import CommReceiver, Transceiver
from isac_ae.hw.finetune import surrogate
from isac_ae.hw.finetune.objective import heldout_terms
from isac_ae.hw.finetune.surrogate import (
    FREE_PARAMETERS,
    corrected_model,
    finetune,
    fit_array,
    manifold_residual,
)
from isac_ae.hw.manifold import measure_digital
from isac_ae.hw.profiles import profile
from isac_ae.hw.twin import DigitalTwin
from isac_ae.impairments import ArrayModel
from isac_ae.pretrained import sweep_dir
from isac_ae.scenario import Scenario

from ..helpers import Z
from .twin_variants import TX_SCALE, eigenvector_ratio_std, manifold, noise_power, served, variant

DEVICE = "quadmxfe"
ANGLES = np.linspace(-60.0, 60.0, 25)  # symmetric: the gains' phases decouple from the positions (sum sin = 0)
TARGET, COMM, DATA = 0.1, 0.3, 4096  # the scene's amplitudes and the samples per measurement
OMEGA = 0.09
HELD_OUT = 20_000  # snapshots of the held-out J_ISAC set


def _measure(twin: DigitalTwin, calibrate: bool = True):
    """The twin's manifold over ANGLES and (``calibrate``) its boresight calibration (for the TX gains), through
    pyadi-iio and the emulator."""
    with served(twin) as (uris, scenes):
        board = Transceiver(DEVICE, uris[0])
        pluto = profile("pluto2")
        comm = CommReceiver(uris[1], pluto.default_lo_hz, pluto.default_sample_rate_hz)
        try:
            measured = measure_digital(board, scenes, ANGLES, amplitude=TARGET, data=DATA)
            calibration = (
                calibrate_digital(board, comm, scenes, target_amplitude=TARGET, comm_amplitude=COMM, data=DATA)
                if calibrate
                else None
            )
        finally:
            board.close()
    return measured, calibration


def _complex(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.complex128)


def _ratio_std(twin: DigitalTwin) -> np.ndarray:
    """(G, K): std of each real part of the measured ratio m_k(theta) = a_k / a_0, first order
    (tests/hw/twin_variants.py): the principal eigenvector of DATA snapshots of an echo of power
    (TARGET TX_SCALE |a_tx(theta)_0|)^2 (the measurement transmits on TX channel 0) against the twin's noise."""
    a_rx, a_tx = manifold(twin, ANGLES, "rx"), manifold(twin, ANGLES, "tx")
    return np.stack(
        [
            eigenvector_ratio_std(a, (TARGET * TX_SCALE * abs(t[0])) ** 2, noise_power(twin), DATA)
            for a, t in zip(a_rx, a_tx)
        ]
    )


@pytest.fixture(scope="module")
def gains_only():
    """Quad-MxFE seed 3 with only per-element gains and phases: no coupling; the profile's positions are nominal."""
    twin = variant(DEVICE, 3, coupling=False)
    assert np.array_equal(twin.truth.array.positions.numpy(), np.arange(16) / 2)
    return twin, _measure(twin, calibrate=False)[0]


@pytest.fixture(scope="module")
def full():
    """Quad-MxFE seed 0 as drawn (gains, channel mismatch, coupling of -25..-15 dB)."""
    twin = DigitalTwin(DEVICE, seed=0)
    return (twin, *_measure(twin))


def _estimate_covariance(twin: DigitalTwin, measured, std: np.ndarray) -> tuple[np.ndarray, list[slice]]:
    """First-order covariance of the fitted parameters [gains 1..K-1 (re, im), positions 1..K-1, c1 (re, im)].

    fit_array minimises sum_g w_g |m_g - model_g(x)|^2 with w_g the measured SNR (linear); linearised at the
    truth x0 (model J (x - x0)), the weighted least-squares estimate has the sandwich covariance
    A^-1 J^T W S W J A^-1, A = J^T W J, S the measurement noise's covariance (diag std^2 per real part).
    """
    k = twin.profile.num_elements
    truth = twin.truth.array.to(dtype=torch.float64)
    theta = torch.as_tensor(np.radians(ANGLES), dtype=torch.float64)
    gains = (truth.gain_rx / truth.gain_rx[0]).detach()
    distance = torch.abs(torch.arange(k)[:, None] - torch.arange(k)[None, :])

    def ratios(x):
        g = torch.cat(
            [torch.ones(1, dtype=torch.complex128), gains[1:] + torch.complex(x[: k - 1], x[k - 1 : 2 * k - 2])]
        )
        p = truth.positions + torch.cat([torch.zeros(1, dtype=torch.float64), x[2 * k - 2 : 3 * k - 3]])
        c1 = torch.complex(x[-2], x[-1])
        coupling = (distance == 0) + c1 * (distance == 1)  # first order in c1 at c1 = 0, the truth
        a = ArrayModel(p, truth.gain_tx, g, coupling.to(torch.complex128)).steering_rx(theta)
        r = (a / a[:, :1])[:, 1:]
        return torch.cat([r.real.flatten(), r.imag.flatten()])

    jacobian = torch.autograd.functional.jacobian(ratios, torch.zeros(3 * k - 1, dtype=torch.float64)).numpy()
    weight = 10 ** (measured.snr_db / 10)
    w = np.tile(np.repeat(weight, k - 1), 2)
    s = np.tile(std[:, 1:].flatten() ** 2, 2)
    a_inverse = np.linalg.inv(jacobian.T @ (w[:, None] * jacobian))
    middle = jacobian.T @ ((w * s * w)[:, None] * jacobian)
    return a_inverse @ middle @ a_inverse, [slice(0, k - 1), slice(k - 1, 2 * k - 2), slice(2 * k - 2, 3 * k - 3)]


def test_the_fit_recovers_gains_and_phases_of_a_twin_with_only_those(gains_only):
    twin, measured = gains_only
    fitted, report = fit_array(measured, DEVICE, truth=twin.truth.array)  # all of FREE_PARAMETERS free
    assert report.free == FREE_PARAMETERS and report.angles == ANGLES.size and report.tx_source == "nominal"
    # Tolerance: each measured ratio is noisy with the std derived from the echo's SNR and DATA samples
    # (_ratio_std); the fit pools the G = 25 angles, so a gain's error is about that std / sqrt(G), and freeing
    # the positions and c1 as well changes it only through the fit's linearised (sandwich) covariance, which
    # gives each real parameter's std exactly to first order. Z of those stds, element by element.
    covariance, (re, im, positions) = _estimate_covariance(twin, measured, _ratio_std(twin))
    sd = np.sqrt(np.diag(covariance))
    true_gain = _complex(twin.truth.array.gain_rx / twin.truth.array.gain_rx[0])[1:]
    fit_gain = _complex(fitted.gain_rx)
    # the complex error split into the gain's magnitude (radial) and phase (tangential, rad x |g|) directions,
    # each with its std from the (re, im) covariance projected on that direction
    error = np.stack([(fit_gain[1:] - true_gain).real, (fit_gain[1:] - true_gain).imag])
    pairs = np.array(
        [
            [[covariance[r, r], covariance[r, i]], [covariance[i, r], covariance[i, i]]]
            for r, i in zip(range(re.start, re.stop), range(im.start, im.stop))
        ]
    )
    u = true_gain / np.abs(true_gain)
    directions = {"radial": np.stack([u.real, u.imag]), "tangential": np.stack([-u.imag, u.real])}
    bounds = {}
    for name, d in directions.items():
        bounds[name] = Z * np.sqrt(np.einsum("ik,kij,jk->k", d, pairs, d))
        assert np.all(np.abs(np.sum(d * error, 0)) <= bounds[name]), name
    assert fit_gain[0] == 1.0
    # and it finds no coupling and no position error (both absent), within the same derivation
    c1 = complex(fitted.coupling[1, 0])
    assert abs(c1.real) <= Z * sd[-2] and abs(c1.imag) <= Z * sd[-1]
    offset = (fitted.positions - twin.truth.array.positions).double().numpy()[1:]
    assert np.all(np.abs(offset) <= Z * sd[positions])
    # the report states the same errors in dB and degrees: within the bounds in those units (first order)
    relative_bound = {name: np.max(b / np.abs(true_gain)) for name, b in bounds.items()}
    assert report.truth["gain_rx_db"] <= 20 * np.log10(1 + relative_bound["radial"])
    assert report.truth["phase_rx_deg"] <= np.degrees(relative_bound["tangential"])
    # tolerances that mean something: under a tenth of a dB and half a degree
    assert 20 * np.log10(1 + relative_bound["radial"]) < 0.1 and np.degrees(relative_bound["tangential"]) < 0.5


def test_with_full_impairments_the_fit_explains_the_manifold_down_to_its_noise(full):
    twin, measured, calibration = full
    fitted, report = fit_array(measured, DEVICE, calibration=calibration, truth=twin.truth.array)
    # Noise alone leaves ||e||^2 = sum of the G (K-1) ratios' variances 2 std^2 (a sum of squared normals: its
    # variance is sum 2 (std^2)^2 per real part); fitting 3K - 1 parameters only lowers it. A model that
    # explains everything but the noise stays below mean + Z standard deviations of that sum.
    std = _ratio_std(twin)[:, 1:]
    mean, sd = np.sum(2 * std**2), np.sqrt(np.sum(4 * std**4))
    noise_bound = np.sqrt(mean + Z * sd) / np.linalg.norm(measured.response[:, 1:])
    assert report.residual <= noise_bound
    assert report.residual == pytest.approx(manifold_residual(measured, fitted), rel=1e-5)  # float32 copy
    # the nominal array and the calibrated one (gains at boresight, nominal positions, no coupling) are far off:
    # by more than 100 and 10 times that bound (the coupling, -25..-15 dB, is what a calibration cannot see)
    nominal = manifold_residual(measured, ArrayModel.nominal(16))
    calibrated = manifold_residual(measured, calibration.array_model(np.arange(16) / 2))
    assert report.start_residual == pytest.approx(calibrated, rel=1e-6)
    assert nominal >= 100 * noise_bound and calibrated >= 10 * noise_bound
    c1_true = complex(twin.truth.array.coupling[1, 0])
    assert report.c1_db == pytest.approx(20 * np.log10(abs(c1_true)), abs=0.5)
    # TX gains: the calibration's boresight TX measurement carries the coupling folded in, about |c1| off the
    # gains (tests/hw/test_calibration.py); corrected with the fitted coupling they are within a quarter of
    # that (the rest is the TX measurement's noise, here at 26 dB). Without a calibration they stay nominal.
    true_tx = _complex(twin.truth.array.gain_tx)
    true_tx = true_tx / true_tx[0]
    assert report.tx_source == "calibration" and calibration.diagnostics["tx_snr_db"] > 20, "a deep fade"
    assert np.max(np.abs(_complex(fitted.gain_tx) / true_tx - 1)) < abs(c1_true) / 4
    assert np.max(np.abs(calibration.tx_gain / true_tx - 1)) > abs(c1_true) / 2
    _, bare = fit_array(measured, DEVICE, truth=twin.truth.array)
    assert bare.tx_source == "nominal" and bare.truth["phase_tx_deg"] > 90.0
    assert bare.truth["phase_rx_deg"] == pytest.approx(report.truth["phase_rx_deg"], abs=1e-6)


@pytest.fixture(scope="module")
def nominal():
    return load_model(sweep_dir("nominal") / f"omega_{OMEGA}.safetensors")


def test_a_correction_absorbed_into_the_weights_is_the_calibrated_system(full, nominal):
    _, _, calibration = full
    scenario = nominal.scenario
    absorbed = AutoencoderSystem(
        corrected_model(nominal.model, calibration.tx_correction, calibration.rx_correction), scenario
    )
    wrapped = CalibratedSystem(AutoencoderSystem(nominal.model, scenario), calibration)
    messages = torch.arange(scenario.num_messages)
    y, beam = wrapped.transmit(messages)
    torch.testing.assert_close(absorbed.beam, beam, rtol=0, atol=1e-6)
    torch.testing.assert_close(absorbed.transmit(messages)[0], y, rtol=0, atol=1e-6)
    z = torch.randn(1000, scenario.num_antennas, dtype=torch.complex64, generator=torch.Generator().manual_seed(3))
    for got, want in zip(absorbed.radar_receive(z), wrapped.radar_receive(z)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(AutoencoderSystem(nominal.model, scenario).beam, beam, atol=0.01)


def test_finetuning_through_the_fitted_channel_lowers_j_isac_on_the_true_channel(full, nominal, tmp_path):
    twin, measured, calibration = full
    scenario = nominal.scenario
    reports = []
    tuned, metadata = finetune(
        nominal.model,
        scenario,
        nominal.omega,
        measured,
        DEVICE,
        calibration=calibration,
        budget="quick",
        checkpoint=tmp_path / "ft.pt",
        progress=reports.append,
    )
    assert len(reports) == surrogate.BUDGETS["quick"] // surrogate.BATCH_SIZE
    assert metadata["method"] == "surrogate" and metadata["device"] == DEVICE
    assert metadata["budget"]["name"] == "quick" and metadata["budget"]["training_samples"] == len(reports) * 10_000
    assert metadata["fit"]["tx_source"] == "calibration" and metadata["start"]["corrected"]
    # Held out: HELD_OUT snapshots through the twin's TRUE channels (its hidden array, not the fitted one),
    # the same draws for both models (common random numbers), so the standard error of the mean paired
    # difference is the set's sampling error; the improvement must exceed Z of it.
    true_channels = Channels(twin.radar_channel(scenario), twin.comm_channel(scenario))
    before = heldout_terms(nominal.model, scenario, OMEGA, true_channels, HELD_OUT, seed=11)
    after = heldout_terms(tuned, scenario, OMEGA, true_channels, HELD_OUT, seed=11)
    gain = before - after
    margin = Z * gain.std(ddof=1) / np.sqrt(HELD_OUT)
    assert gain.mean() > margin, f"J_ISAC {before.mean():.4f} -> {after.mean():.4f}, margin {margin:.4f}"
    # Most of it is the correction absorbed before training (the fitted gains' inverse, corrected_model); the
    # training through the fitted channel adds to it, by more than Z standard errors as well.
    fitted, fit = fit_array(measured, DEVICE, calibration=calibration)
    assert metadata["fit"]["residual"] == fit.residual
    start = corrected_model(nominal.model, 1 / fitted.gain_tx, 1 / fitted.gain_rx)
    added = heldout_terms(start, scenario, OMEGA, true_channels, HELD_OUT, seed=11) - after
    assert added.mean() > Z * added.std(ddof=1) / np.sqrt(HELD_OUT)


def test_a_resumed_finetuning_ends_where_an_uninterrupted_one_does(full, nominal, tmp_path, monkeypatch):
    twin, measured, calibration = full
    monkeypatch.setitem(surrogate.BUDGETS, "quick", 4 * surrogate.BATCH_SIZE)  # 4 steps
    run = dict(calibration=calibration, budget="quick")
    reference, _ = finetune(nominal.model, nominal.scenario, OMEGA, measured, DEVICE, **run)

    class Interrupted(Exception):
        pass

    def stop_after_three(report):
        if report.step == 3:
            raise Interrupted

    checkpoint = tmp_path / "ft.pt"
    with pytest.raises(Interrupted):
        finetune(
            nominal.model,
            nominal.scenario,
            OMEGA,
            measured,
            DEVICE,
            checkpoint=checkpoint,
            checkpoint_every=2,
            progress=stop_after_three,
            **run,
        )
    steps = []
    resumed, metadata = finetune(
        nominal.model,
        nominal.scenario,
        OMEGA,
        measured,
        DEVICE,
        checkpoint=checkpoint,
        checkpoint_every=2,
        progress=steps.append,
        **run,
    )
    assert [r.step for r in steps] == [3, 4]  # from the checkpoint at step 2
    for name, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    # the same checkpoint with another manifold (a different measurement) is refused
    other = dataclasses.replace(measured, response=measured.response * np.exp(0.01j))
    with pytest.raises(ValueError, match="belongs to another fine-tuning run"):
        finetune(nominal.model, nominal.scenario, OMEGA, other, DEVICE, checkpoint=checkpoint, **run)


def test_bad_input_is_refused_with_a_clear_message(full, nominal):
    twin, measured, calibration = full
    four = dataclasses.replace(measured, response=measured.response[:, :4])
    with pytest.raises(ValueError, match="measured on a fmcomms5, not a quadmxfe"):
        fit_array(dataclasses.replace(four, device="fmcomms5"), DEVICE)
    with pytest.raises(ValueError, match="the manifold has K = 4 elements, the quadmxfe has K = 16"):
        fit_array(four, DEVICE)
    with pytest.raises(ValueError, match="calibration was made on a fmcomms5, not a quadmxfe"):
        fit_array(measured, DEVICE, calibration=dataclasses.replace(calibration, device="fmcomms5"))
    with pytest.raises(ValueError, match="free parameters must be distinct names among"):
        fit_array(measured, DEVICE, free=("gain_tx",))
    with pytest.raises(ValueError, match="has K = 16 elements; the scenario has K = 4"):
        finetune(nominal.model, Scenario(num_antennas=4), OMEGA, measured, DEVICE)
    with pytest.raises(ValueError, match="budget must be one of"):
        finetune(nominal.model, nominal.scenario, OMEGA, measured, DEVICE, budget="paper")
    with pytest.raises(ValueError, match="unknown device profile"):
        fit_array(measured, "hackrf")
    with pytest.raises(ValueError, match=r"rx_correction must hold K = 16 factors, got shape \(4,\)"):
        corrected_model(nominal.model, np.ones(16), np.ones(4))
