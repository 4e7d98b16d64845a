"""Python AE radar receiver block against isac_ae.autoencoder.AutoencoderSystem.radar_receive."""

import math

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import torch  # noqa: E402

from isac_ae.autoencoder import AutoencoderSystem  # noqa: E402
from isac_ae.autoencoder.modelfile import ModelFileError  # noqa: E402
from isac_ae.blocks import ae_receivers  # noqa: E402
from isac_ae.channels import RadarChannel  # noqa: E402
from isac_ae.evaluation import h0_scores, threshold_for_pfa  # noqa: E402

K = 16


@pytest.fixture(scope="module")
def snapshots(core):
    """Radar snapshots of the core's channel: half with a target."""
    gen = torch.Generator().manual_seed(7)
    with torch.inference_mode():
        y, _ = core.transmit(torch.randint(4, (20_000,), generator=gen))
        return RadarChannel(core.scenario)(y, gen).z.numpy().astype(np.complex64)


def _core_outputs(core, z):
    with torch.inference_mode():
        logit, theta, sigma = core.radar_receive(torch.from_numpy(z))
    return logit.numpy(), theta.numpy(), sigma.numpy()


def _run(run, block, z):
    return run(block, [(z, "c", K)], [("f", 1), ("f", 1), ("f", 1), ("b", 1)])


def test_outputs_equal_the_core_with_a_logit_threshold(run, model_path, core, snapshots):
    rx = ae_receivers.ae_radar_receiver(str(model_path), K=K, mode="logit", threshold=0.5)
    q, theta, sigma, det = _run(run, rx, snapshots)
    logit, theta_core, sigma_core = _core_outputs(core, snapshots)
    np.testing.assert_allclose(q, 1 / (1 + np.exp(-logit.astype(np.float64))), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(theta, theta_core, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, sigma_core, rtol=1e-5, atol=1e-7)
    expected = logit > 0.5
    near = np.abs(logit - 0.5) < 1e-4  # batch-size dependent float32 rounding may flip only these
    np.testing.assert_array_equal(det[~near], expected[~near])
    assert 0.2 < det.mean() < 0.6
    assert rx.threshold() == 0.5 and rx.mode() == "logit" and math.isnan(rx.pfa())


def test_estimating_detections_only_gives_the_same_outputs_there_and_nan_elsewhere(run, model_path, core, snapshots):
    """estimate="detections" against the default on the same snapshots: q and detection unchanged, theta_hat and
    sigma_hat those of every-snapshot estimation where detected, NaN where not; and it can change while running."""
    every = _run(run, ae_receivers.ae_radar_receiver(str(model_path), mode="logit", threshold=0.5), snapshots)
    rx = ae_receivers.ae_radar_receiver(str(model_path), mode="logit", threshold=0.5, estimate="detections")
    q, theta, sigma, det = _run(run, rx, snapshots)
    np.testing.assert_allclose(q, every[0], rtol=1e-5, atol=1e-7)
    near = np.abs(_core_outputs(core, snapshots)[0] - 0.5) < 1e-4  # float32 rounding may flip only these
    np.testing.assert_array_equal(det[~near], every[3][~near])
    hit = det.astype(bool) & every[3].astype(bool)
    assert 0.2 < hit.mean() < 0.6
    np.testing.assert_allclose(theta[hit], every[1][hit], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma[hit], every[2][hit], rtol=1e-5, atol=1e-7)
    assert np.isnan(theta[det == 0]).all() and np.isnan(sigma[det == 0]).all()
    rx.set_estimate("all")
    assert rx.estimate() == "all"
    with pytest.raises(ValueError, match=r"estimate must be one of \('all', 'detections'\), got 'some'"):
        rx.set_estimate("some")
    assert rx.estimate() == "all"


def test_pfa_threshold_is_the_core_calibration(model_path, core):
    rx = ae_receivers.ae_radar_receiver(str(model_path), mode="pfa", pfa=0.01, h0_samples=50_000, seed=3)
    h0 = h0_scores(core, 50_000, 3)
    assert rx.threshold() == pytest.approx(threshold_for_pfa(h0, 0.01), rel=1e-5)
    assert rx.pfa() == 0.01 and rx.mode() == "pfa"
    rx.set_pfa(0.1)
    assert rx.threshold() == pytest.approx(threshold_for_pfa(h0, 0.1), rel=1e-5)
    rx.set_threshold_rule("logit", 2.0, 0.5)
    assert (rx.mode(), rx.threshold()) == ("logit", 2.0)
    with pytest.raises(ValueError, match="threshold mode"):
        rx.set_threshold_rule("sometimes")
    with pytest.raises(ValueError, match=r"pfa must lie in \(0, 1\)"):
        rx.set_pfa(1.5)


def test_calibrated_threshold_gives_the_target_pfa_on_noise(run, model_path):
    rx = ae_receivers.ae_radar_receiver(str(model_path), pfa=0.05, h0_samples=20_000, seed=11)
    rng = np.random.default_rng(5)
    n = 20_000
    noise = ((rng.standard_normal((n, K)) + 1j * rng.standard_normal((n, K))) / np.sqrt(2)).astype(np.complex64)
    *_, det = _run(run, rx, noise)
    tol = 5 * math.sqrt(0.05 * 0.95 * (1 / n + 1 / 20_000))
    assert abs(det.mean() - 0.05) < tol


def test_non_finite_snapshots_give_nan_and_no_detection(run, model_path, core, snapshots, capfd):
    z = snapshots[:10].copy()
    z[2, 3] = np.nan
    z[5, 0] = complex(np.inf, 0)
    z[7, 15] = complex(0, -np.inf)
    rx = ae_receivers.ae_radar_receiver(str(model_path), mode="logit", threshold=-100.0)  # detect everything finite
    q, theta, sigma, det = _run(run, rx, z)
    bad = np.zeros(10, bool)
    bad[[2, 5, 7]] = True
    assert np.isnan(q[bad]).all() and np.isnan(theta[bad]).all() and np.isnan(sigma[bad]).all()
    np.testing.assert_array_equal(det[bad], 0)
    np.testing.assert_array_equal(det[~bad], 1)
    logit, theta_core, _ = _core_outputs(core, z[~bad])
    np.testing.assert_allclose(theta[~bad], theta_core, rtol=1e-5, atol=1e-6)
    captured = capfd.readouterr()
    assert (captured.out + captured.err).count("NaN or infinite") == 1


def test_bad_parameters_are_clear_errors(model_path, tmp_path):
    with pytest.raises(ModelFileError, match=r"K=16 \(block: K=8\)"):
        ae_receivers.ae_radar_receiver(str(model_path), K=8)
    with pytest.raises(ModelFileError, match="not found"):
        ae_receivers.ae_radar_receiver(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="threshold mode"):
        ae_receivers.ae_radar_receiver(str(model_path), mode="fixed")
    with pytest.raises(ValueError, match="h0_samples"):
        ae_receivers.ae_radar_receiver(str(model_path), mode="pfa", h0_samples=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(h0_samples=10**10), r"h0_samples must be an integer in \[1, 2000000\]"),  # calibrated for an hour
        (dict(h0_samples=100), r"h0_samples \(for pfa 0.01\) must be an integer in \[1000, 2000000\]"),
        (dict(pfa=1e-9), "more than the 2000000 a block calibrates on"),
        (dict(pfa=float("nan")), r"pfa must lie in \(0, 1\)"),
        (dict(seed=-1), r"seed must be an integer in \[0, "),
        (dict(seed=2**70), r"seed must be an integer in \[0, "),  # was "Overflow when unpacking long long"
        (dict(h0_samples=1e5), "h0_samples must be an integer"),
        (dict(K=16.5), r"K must be an integer >= 1 \(or 0 to take the model's\)"),  # was silently 16
        (dict(mode="logit", threshold=float("nan")), "threshold must not be NaN"),
    ],
)
def test_hostile_parameters_are_refused_before_any_calibration(model_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ae_receivers.ae_radar_receiver(str(model_path), **kwargs)


def test_threshold_needs_no_recalibration_when_the_scenario_changes(model_path):
    """The H0 logits are those of noise: the same for any sector, SNR or array, so one calibration holds."""
    from isac_ae.autoencoder.modelfile import load_model

    loaded = load_model(model_path)
    reference = h0_scores(AutoencoderSystem(loaded.model, loaded.scenario), 5000, 8)
    for change in [
        dict(target_sector_deg=(-10.0, 30.0)),
        dict(comm_sector_deg=(0.0, 80.0)),
        dict(snr_radar_db=10.0),
        dict(spacing_std=1 / 30, impairment_seed=3),
    ]:
        other = AutoencoderSystem(loaded.model, loaded.scenario.replace(**change))
        np.testing.assert_array_equal(h0_scores(other, 5000, 8), reference)


def test_wrong_vector_length_cannot_be_connected(model_path):
    from gnuradio import blocks, gr

    rx = ae_receivers.ae_radar_receiver(str(model_path), mode="logit")
    tb = gr.top_block()
    with pytest.raises(ValueError, match="itemsize mismatch"):
        tb.connect(blocks.vector_source_c([0j] * 8, False, 8), rx)
