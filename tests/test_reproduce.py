"""The reproduction pipeline on tiny models: files, tables and the comparison with the baseline front."""

import json
import math

import pytest

from isac_ae import Scenario
from isac_ae.autoencoder import TrainingConfig
from isac_ae.autoencoder.sweep import model_filename, train_sweep
from isac_ae.baselines import BaselineSystem
from isac_ae.evaluation import evaluate
from isac_ae.reproduce import Reproduction, compare_models, comparison_table, markdown_table
from isac_ae.tradeoff import baseline_sweep, default_phis, front_at_ser, mark_fronts, refine_points


def _point(rho, phi_deg, ser, pd, rmse):
    return dict(
        rho=rho,
        phi_deg=phi_deg,
        ser=ser,
        pd=pd,
        pd_ci_low=pd - 0.01,
        pd_ci_high=pd + 0.01,
        rmse_deg=rmse,
        rmse_ci_low=rmse - 0.1,
        rmse_ci_high=rmse + 0.1,
    )


@pytest.fixture
def front():
    """Three front points at SER 0.001, 0.004, 0.016 (log-spaced) and one dominated point."""
    return mark_fronts(
        [
            _point(0.0, 0.0, 0.001, 0.2, 3.0),
            _point(0.2, 0.0, 0.004, 0.6, 2.0),
            _point(0.2, 45.0, 0.005, 0.55, 2.5),
            _point(1.0, 0.0, 0.016, 0.8, 1.0),
        ]
    )


def test_front_is_interpolated_in_log_ser_not_stepped(front):
    # SER 0.002 is halfway between 0.001 and 0.004 in log SER: the average of the two, not the point below.
    pd = front_at_ser(front, 0.002, 0.002, 0.002, "pd")
    assert pd["value"] == pytest.approx(0.4) and (pd["low"], pd["high"]) == pytest.approx((0.39, 0.41))
    assert pd["points"] == [(0.0, 0.0), (0.2, 0.0)]
    assert front_at_ser(front, 0.002, 0.002, 0.002, "rmse_deg")["value"] == pytest.approx(2.5)
    assert front_at_ser(front, 0.5, 0.4, 0.6, "pd")["value"] == 0.8  # beyond the front: its last point
    assert math.isnan(front_at_ser(front, 0.0005, 0.0004, 0.0006, "pd")["value"])  # the baseline cannot get there


def test_front_range_spans_the_ser_interval_and_the_points_inside(front):
    # SER interval [0.001, 0.008]: 0.008 is halfway between 0.004 and 0.016; the point at 0.004 is inside.
    pd = front_at_ser(front, 0.002, 0.001, 0.008, "pd")
    assert (pd["low"], pd["high"]) == pytest.approx((0.19, 0.71))
    rmse = front_at_ser(front, 0.002, 0.001, 0.008, "rmse_deg")
    assert (rmse["low"], rmse["high"]) == pytest.approx((1.4, 3.1))


def test_refinement_splits_the_bracketing_rho_interval_around_the_front_phase(front):
    points = refine_points(front, [0.002], math.radians(45.0), rho_steps=4, phases=1)
    # rho 0 has no phase; rho 0.2 at phi 0 is already evaluated; the rest: 3 phases around phi = 0.
    expected = {(0.2, -11.25), (0.2, 11.25)} | {(rho, phi) for rho in (0.05, 0.1, 0.15) for phi in (-11.25, 0.0, 11.25)}
    assert sorted((round(rho, 9), round((math.degrees(phi) + 180) % 360 - 180, 9)) for rho, phi in points) == sorted(
        expected
    )
    assert refine_points(front, [0.5, 0.0001], math.radians(45.0)) == []  # outside the front: nothing to bracket


def test_comparison_reports_ranges_and_unresolved_differences(front):
    ae = dict(
        omega=0.1,
        pd=0.45,
        pd_ci_low=0.44,
        pd_ci_high=0.46,
        pfa=0.01,
        pfa_ci_low=0.009,
        pfa_ci_high=0.011,
        rmse_deg=2.6,
        rmse_ci_low=2.4,
        rmse_ci_high=2.8,
        sigma_deg=1.6,
        sigma_rms_deg=2.0,
        ser=0.002,
        ser_ci_low=0.002,
        ser_ci_high=0.002,
    )
    (row,) = comparison_table([ae], front)
    assert row["pd_gap"] == pytest.approx(0.05)
    assert (row["pd_gap_low"], row["pd_gap_high"]) == pytest.approx((0.03, 0.07))
    assert row["rmse_ratio"] == pytest.approx(2.6 / 2.5)
    assert (row["rmse_ratio_low"], row["rmse_ratio_high"]) == pytest.approx((2.4 / 2.6, 2.8 / 2.4))
    line = markdown_table([row]).splitlines()[2]
    assert "+0.0500 [+0.0300, +0.0700] |" in line  # resolved: the range excludes 0
    assert "1.04 [0.92, 1.17] not resolved |" in line


def test_sweep_shares_the_test_draws_of_evaluate_with_the_same_seed():
    sc = Scenario()
    rows = baseline_sweep(sc, [0.3], default_phis(2), 3000, seed=5)
    for row in rows:
        alone = evaluate(
            BaselineSystem(sc, row["rho"], math.radians(row["phi_deg"])), 3000, seed=5, threshold=row["threshold"]
        )
        assert {k: row[k] for k in ("pd", "rmse_deg", "ser", "targets", "detected")} == {
            k: getattr(alone, k) for k in ("pd", "rmse_deg", "ser", "targets", "detected")
        }


def test_reproduction_writes_figures_tables_and_summary(tmp_path, monkeypatch):
    models = tmp_path / "models"
    train_sweep(
        Scenario(), TrainingConfig(omegas=(0.0, 0.09, 1.0), samples_per_stage=1000, batch_size=500), models / "nominal"
    )
    monkeypatch.setenv("ISAC_AE_MODELS", str(models))
    out = tmp_path / "out"
    logged = []
    written = Reproduction(out, samples=3000, seed=1, log=logged.append, rhos=(0.0, 0.3, 0.7, 1.0)).run(
        ["fig2", "fig3", "fig4", "fig5"]
    )
    names = {p.name for p in written}
    for stem in ("fig2_ser_vs_pd", "fig2_ser_vs_rmse", "fig3_beampatterns", "fig4_rmse_vs_sigma"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    assert "summary.md" in names and (out / "fig2_table.md").read_text().count("\n") == 2 + 3
    assert (out / "fig4_table.md").read_text().count("\n") == 2 + 3
    assert any("skipping spacing_l30" in line for line in logged)  # no impaired sweep shipped here

    # Further models against the saved sweep: refined around their SERs, on the sweep's draws only.
    model = models / "nominal" / model_filename(0.09)
    written = compare_models([model], out / "nominal_baseline.csv", 3000, 1, tmp_path / "cmp", log=logged.append)
    fig2 = json.loads((out / "fig2_table.json").read_text())["rows"]
    (row,) = json.loads(written[1].read_text())["rows"]
    assert row["pd"] == fig2[1]["pd"] and row["rmse_deg"] == fig2[1]["rmse_deg"]
    with pytest.raises(ValueError, match="was not swept on this scenario with 3000 samples and seed 2"):
        compare_models([model], out / "nominal_baseline.csv", 3000, 2, tmp_path / "cmp", log=logged.append)
