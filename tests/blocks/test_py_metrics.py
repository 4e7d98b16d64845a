"""Python ISAC metrics sink against a numpy computation of Pd, Pfa, RMSE, SER."""

import json
import math

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import pmt  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from isac_ae.blocks import metrics  # noqa: E402
from isac_ae.evaluation import rmse_interval  # noqa: E402


def _streams(rng, n):
    t = rng.integers(0, 2, n).astype(np.uint8)
    theta = rng.uniform(-0.35, 0.35, n).astype(np.float32)
    det = (rng.random(n) < np.where(t == 1, 0.8, 0.05)).astype(np.uint8)
    theta_hat = (theta + rng.normal(0, 0.02, n)).astype(np.float32)
    theta_hat[det == 0] = np.nan  # estimates of undetected snapshots must not matter
    m = rng.integers(0, 4, n).astype(np.uint8)
    m_hat = np.where(rng.random(n) < 0.03, (m + 1) % 4, m).astype(np.uint8)
    return t, theta, det, theta_hat, m, m_hat


def _numpy_metrics(t, theta, det, theta_hat, m, m_hat):
    present, decided = t == 1, det == 1
    hit = present & decided
    err = theta_hat[hit].astype(np.float64) - theta[hit].astype(np.float64)
    sq = err**2
    n = hit.sum()
    return {
        "pd": hit.sum() / present.sum(),
        "pfa": (decided & ~present).sum() / (~present).sum(),
        "rmse_deg": math.degrees(math.sqrt(sq.mean())),
        "rmse_stderr_deg": math.degrees(sq.std(ddof=1) / math.sqrt(n) / (2 * math.sqrt(sq.mean()))),
        "ser": np.mean(m != m_hat),
        "targets": int(present.sum()),
        "detected": int(n),
        "false_alarms": int((decided & ~present).sum()),
        "symbol_errors": int((m != m_hat).sum()),
    }


def _flowgraph(block, streams):
    tb = gr.top_block()
    kinds = [
        blocks.vector_source_b,
        blocks.vector_source_f,
        blocks.vector_source_b,
        blocks.vector_source_f,
        blocks.vector_source_b,
        blocks.vector_source_b,
    ]
    for port, (make, data) in enumerate(zip(kinds, streams)):
        tb.connect(make(data.tolist(), False), (block, port))
    return tb


def test_metrics_equal_numpy(rng, tmp_path, capfd):
    streams = _streams(rng, 50_000)
    path = tmp_path / "out" / "metrics.json"
    met = metrics.isac_metrics(report_every=0, json_path=str(path), label="test")
    _flowgraph(met, streams).run()
    expected = _numpy_metrics(*streams)
    for key in ("pd", "pfa", "rmse_deg", "ser"):
        assert getattr(met, key)() == pytest.approx(expected[key], rel=1e-12)
    assert met.rmse_stderr_deg() == pytest.approx(expected["rmse_stderr_deg"], rel=1e-6)
    counts = met.counts()
    for key in ("targets", "detected", "false_alarms", "symbol_errors"):
        assert counts[key] == expected[key]
    assert counts["items"] == 50_000 and counts["absent"] == 50_000 - expected["targets"]
    # The evaluation's RMSE interval, from sums of squared errors computed here rather than by the block.
    hit = (streams[0] == 1) & (streams[2] == 1)
    sq = (streams[3][hit].astype(np.float64) - streams[1][hit].astype(np.float64)) ** 2
    expected_ci = [math.degrees(x) for x in rmse_interval(sq.sum(), (sq**2).sum(), len(sq))]
    np.testing.assert_allclose(met.metrics()["rmse_ci_deg"], expected_ci, rtol=1e-9)
    assert expected_ci[0] < met.rmse_deg() < expected_ci[1]
    written = json.loads(path.read_text())  # written at stop
    assert written["pd"] == pytest.approx(expected["pd"]) and written["label"] == "test"
    assert written["pd_ci"][0] < written["pd"] < written["pd_ci"][1]
    captured = capfd.readouterr()
    assert "test: Pd" in captured.out + captured.err  # summary logged at stop


def test_message_port_publishes_every_n_items(rng):
    streams = _streams(rng, 10_000)
    met = metrics.isac_metrics(report_every=3000, log_at_stop=False)
    tb = _flowgraph(met, streams)
    dbg = blocks.message_debug()
    tb.msg_connect((met, "metrics"), (dbg, "store"))
    tb.run()
    assert dbg.num_messages() == 3  # at 3000, 6000, 9000 items
    for i in range(3):
        msg = pmt.to_python(dbg.get_message(i))
        n = 3000 * (i + 1)
        assert msg["items"] == n
        assert msg["pd"] == pytest.approx(_numpy_metrics(*(s[:n] for s in streams))["pd"], rel=1e-12)


def test_reset_and_empty_metrics(rng):
    met = metrics.isac_metrics(log_at_stop=False)
    assert math.isnan(met.pd()) and math.isnan(met.pfa()) and math.isnan(met.rmse_deg()) and math.isnan(met.ser())
    _flowgraph(met, _streams(rng, 1000)).run()
    assert met.counts()["items"] == 1000
    met.reset()
    assert met.counts()["items"] == 0 and math.isnan(met.pd())
    assert "Pd nan" in met.summary()


def test_a_new_operating_point_restarts_the_counts_and_the_same_one_does_not(rng):
    """The second run's figures are those of its own items only once the epoch changed in between."""
    first, second = _streams(rng, 4000), _streams(rng, 3000)
    met = metrics.isac_metrics(log_at_stop=False, epoch=(0.09, -20, 20))
    _flowgraph(met, first).run()
    met.set_epoch((0.09, -20, 20))  # the same point: nothing restarts
    assert met.counts()["items"] == 4000
    met.set_epoch((0.4, -20, 20))
    assert met.epoch() == (0.4, -20, 20) and met.counts()["items"] == 0
    _flowgraph(met, second).run()
    assert met.counts()["items"] == 3000
    assert met.pd() == pytest.approx(_numpy_metrics(*second)["pd"], rel=1e-12)


def test_non_finite_estimate_of_a_detected_target_counts_as_in_the_evaluation():
    """A detected target with a NaN angle is detected (Pd) and makes the RMSE NaN, as evaluate() has it."""
    t = np.array([1, 1, 1, 0], np.uint8)
    theta = np.array([0.1, 0.2, 0.3, 0.0], np.float32)
    det = np.array([1, 1, 0, 1], np.uint8)
    theta_hat = np.array([0.1 + 0.01, np.nan, 0.0, 0.0], np.float32)
    m = np.zeros(4, np.uint8)
    met = metrics.isac_metrics(log_at_stop=False)
    _flowgraph(met, (t, theta, det, theta_hat, m, m)).run()
    c = met.counts()
    assert (c["detected"], c["non_finite_estimates"], c["false_alarms"]) == (2, 1, 1)
    assert met.pd() == 2 / 3 and math.isnan(met.rmse_deg()) and math.isnan(met.rmse_stderr_deg())
    assert "RMSE nan" in met.summary()


class _DetectsAllAnglesHalfNaN:
    """An IsacSystem (the baseline's transmitter and comm receiver) whose radar receiver detects every
    snapshot (score 1 > threshold 0) and returns NaN for every other angle."""

    def __init__(self):
        from isac_ae import Scenario
        from isac_ae.baselines import BaselineSystem

        self._baseline = BaselineSystem(Scenario(), 0.5, 0.0)
        self.scenario = self._baseline.scenario
        self.transmit, self.comm_receive = self._baseline.transmit, self._baseline.comm_receive

    def radar_receive(self, z):
        import torch

        theta = torch.zeros(len(z))
        theta[::2] = math.nan
        return torch.ones(len(z)), theta, None


def test_nan_angles_give_the_evaluations_figures(rng):
    """The same receiver behaviour through evaluate() and through the block: the same Pd, Pfa and NaN RMSE."""
    from isac_ae.evaluation import evaluate

    core = evaluate(_DetectsAllAnglesHalfNaN(), 2000, seed=1, threshold=0.0)
    t, theta, _, _, m, m_hat = _streams(rng, 2000)
    theta_hat = np.zeros(2000, np.float32)
    theta_hat[::2] = np.nan
    met = metrics.isac_metrics(log_at_stop=False)
    _flowgraph(met, (t, theta, np.ones(2000, np.uint8), theta_hat, m, m_hat)).run()
    assert (met.pd(), met.pfa()) == (core.pd, core.pfa) == (1.0, 1.0)
    assert math.isnan(met.rmse_deg()) and math.isnan(core.rmse_deg)


def test_json_path_is_checked_when_the_block_is_built(tmp_path):
    """A path that cannot be written fails at construction, not when the flowgraph stops after a long run."""
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="is a directory"):
        metrics.isac_metrics(json_path=str(tmp_path))
    with pytest.raises(ValueError, match="cannot write under"):
        metrics.isac_metrics(json_path=str(tmp_path / "a_file" / "metrics.json"))
    nested = tmp_path / "new" / "dir" / "m.json"  # directories that do not exist yet are created at stop
    met = metrics.isac_metrics(json_path=str(nested), log_at_stop=False)
    _flowgraph(met, _streams(np.random.default_rng(1), 100)).run()
    assert json.loads(nested.read_text())["items"] == 100


def test_bad_parameter():
    with pytest.raises(ValueError, match="report_every"):
        metrics.isac_metrics(report_every=-1)
    with pytest.raises(ValueError, match="report_every"):
        metrics.isac_metrics(report_every=1.5)
    with pytest.raises(ValueError, match="log_at_stop must be True or False"):
        metrics.isac_metrics(log_at_stop="no")
