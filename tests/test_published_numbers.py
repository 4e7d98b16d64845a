"""The published numbers are the code's.

docs/figures/*_table.json are the tables `isac-ae reproduce` wrote for
docs/REPRODUCTION.md (1e6 snapshots per point); the document must show them
unchanged, and the shipped omega_r = 0.09 model must reproduce its row within
the sampling error of both runs.
"""

import json
import math
from pathlib import Path

from scipy import stats

from isac_ae import Scenario
from isac_ae.autoencoder import AutoencoderSystem
from isac_ae.autoencoder.modelfile import load_model
from isac_ae.autoencoder.sweep import model_filename
from isac_ae.evaluation import CONFIDENCE, evaluate
from isac_ae.pretrained import sweep_dir
from isac_ae.reproduce import markdown_table

from .helpers import Z

DOCS = Path(__file__).resolve().parents[1] / "docs"
TABLES = sorted((DOCS / "figures").glob("*_table.json"))
#: Snapshots of the check (about a second) and a seed other than the published run's, for independent draws.
SAMPLES, SEED = 200_000, 2


def test_reproduction_md_shows_every_published_table_as_written():
    assert any(p.name == "fig2_table.json" for p in TABLES)
    doc = (DOCS / "REPRODUCTION.md").read_text()
    for path in TABLES:
        assert markdown_table(json.loads(path.read_text())["rows"]) in doc, path.name


def _binomial_tolerance(p: float, n1: float, n2: float) -> float:
    """Z sigma of the difference of two independent estimates of a proportion p from n1 and n2 trials."""
    return Z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def _rmse_stderr(row) -> float:
    """Standard error of an RMSE from its 95 % interval (normal on log MSE, so log RMSE has half the spread)."""
    return (
        row["rmse_deg"]
        * math.log(row["rmse_ci_high"] / row["rmse_ci_low"])
        / (2 * stats.norm.ppf(0.5 + CONFIDENCE / 2))
    )


def test_shipped_sweet_spot_model_reproduces_its_published_row():
    """At the published threshold, Pd, Pfa and SER are binomial and the RMSE has its interval's spread."""
    published = json.loads((DOCS / "figures" / "fig2_table.json").read_text())
    (pub,) = [r for r in published["rows"] if r["omega"] == 0.09]
    scenario = Scenario.from_dict(published["scenario"])
    loaded = load_model(sweep_dir("nominal") / model_filename(0.09), scenario)
    r = evaluate(AutoencoderSystem(loaded.model, scenario), SAMPLES, SEED, threshold=pub["threshold"])
    assert abs(r.pd - pub["pd"]) < _binomial_tolerance(pub["pd"], pub["targets"], r.targets)
    assert abs(r.pfa - pub["pfa"]) < _binomial_tolerance(
        pub["pfa"], pub["samples"] - pub["targets"], SAMPLES - r.targets
    )
    assert abs(r.ser - pub["ser"]) < _binomial_tolerance(pub["ser"], pub["samples"], SAMPLES)
    assert abs(r.rmse_deg - pub["rmse_deg"]) < Z * math.hypot(_rmse_stderr(pub), _rmse_stderr(r.to_dict()))
