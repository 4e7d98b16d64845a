"""scripts/finetune_study.py on a tiny budget (one twin seed, the quick budgets, 2e4 evaluation snapshots, 16
captures): it writes a table with a row per system and a JSON whose numbers are finite, whose intervals contain
their estimates, whose Pfa holds at the threshold's tolerance, and whose aggregates are those of the seeds."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from ..helpers import proportion_tolerance  # noqa: E402
from .torch_threads import one_thread  # noqa: E402, F401

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "finetune_study.py"
SAMPLES = 20_000
INTERVALS = (
    ("pd", "pd_ci_low", "pd_ci_high"),
    ("rmse_deg", "rmse_ci_low", "rmse_ci_high"),
    ("ser", "ser_ci_low", "ser_ci_high"),
    ("pfa", "pfa_ci_low", "pfa_ci_high"),
)


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("finetune_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def produced(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    study.TABLE_RHOS = (0.45, 0.6)  # a narrower sweep of the baseline fronts than the published table's
    assert study.main(["--seeds", "0", "--samples", str(SAMPLES), "--captures", "16", "--out", str(out)]) == 0
    return (out / "results.md").read_text(), json.loads((out / "results.json").read_text())


def test_the_table_has_a_row_per_system_with_every_column(study, produced):
    table, _ = produced
    tables = [[line for line in part.splitlines() if line.startswith("| ")] for part in table.split("\n\n")]
    points, matched = (t for t in tables if t)
    for rows, systems in ((points, study.SYSTEMS), (matched, study.AE_SYSTEMS)):
        header, body = rows[0], rows[1:]
        columns = header.count("|") - 1
        assert [r.split("|")[1].strip() for r in body] == list(systems)
        assert all(r.count("|") - 1 == columns for r in body)
    assert matched[0].count("|") - 2 == len(study.BASELINES)
    assert "matched SER" in table and "oracle" in table


def test_the_numbers_are_finite_and_the_intervals_contain_the_estimates(study, produced):
    _, record = produced
    per_seed = record["per_seed"]["0"]
    assert set(per_seed) == set(study.SYSTEMS)
    for name, entry in per_seed.items():
        r = entry["evaluation"]
        assert r["samples"] == SAMPLES == r["h0_samples"], name
        for metric, low, high in INTERVALS:
            assert all(math.isfinite(r[k]) for k in (metric, low, high)), (name, metric)
            assert r[low] <= r[metric] <= r[high], (name, metric)
        # The threshold comes from as many H0 snapshots as the test has: two binomial errors add (sqrt 2).
        assert abs(r["pfa"] - r["target_pfa"]) <= math.sqrt(2) * proportion_tolerance(r["target_pfa"], SAMPLES), name
        summary = record["summary"][name]
        for metric in study.METRICS:  # one seed: median, min and max are that seed's number
            assert summary[metric] == [r[metric]] * 3, (name, metric)
    for name in ("AE, surrogate fine-tuned", "AE, receivers fine-tuned", "AE, model-free fine-tuned"):
        budget = per_seed[name]["budget"]
        assert budget["captured_snapshots"] > 0 and budget["seconds"] > 0, name
        assert np.isfinite(budget["seconds"])
    assert per_seed["AE, receivers fine-tuned"]["budget"]["recordings"] == 16


def test_the_baselines_are_designed_for_their_arrays_and_compared_on_their_fronts(study, produced):
    """The oracle, designed for the twin's true array, is far better than the nominal design (beyond both
    intervals); every AE row holds each design's front at its SER, within the front's own range of Pd."""
    _, record = produced
    per_seed = record["per_seed"]["0"]
    oracle, nominal = (per_seed[n]["evaluation"] for n in ("baseline, oracle (true array)", "baseline, nominal design"))
    assert oracle["pd_ci_low"] > nominal["pd_ci_high"]
    for name in study.AE_SYSTEMS:
        for baseline in study.BASELINES:
            pd = per_seed[name]["matched"][baseline]["pd"]
            front = [r["pd"] for r in per_seed[baseline]["sweep"] if r["front_pd"]]
            assert math.isnan(pd["value"]) or min(front) <= pd["value"] <= max(front), (name, baseline)
