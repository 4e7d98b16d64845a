"""The reproduction pipeline on tiny models: files, tables and the baseline comparison."""

import math

import pytest

from isac_ae import Scenario
from isac_ae.autoencoder import TrainingConfig
from isac_ae.autoencoder.sweep import train_sweep
from isac_ae.reproduce import Reproduction, comparison_table, front_at_ser


def test_front_at_ser_is_the_best_pd_at_no_more_ser():
    rows = [dict(ser=0.01, pd=0.5, rmse_deg=2.0), dict(ser=0.02, pd=0.7, rmse_deg=1.5),
            dict(ser=0.02, pd=0.6, rmse_deg=1.0), dict(ser=0.05, pd=0.9, rmse_deg=0.8)]
    assert front_at_ser(rows, 0.02) == {"baseline_pd": 0.7, "baseline_rmse_deg": 1.5, "baseline_best_rmse_deg": 1.0}
    assert math.isnan(front_at_ser(rows, 0.001)["baseline_pd"])
    ae = [dict(omega=0.1, pd=0.72, pfa=0.01, pfa_ci_low=0.009, pfa_ci_high=0.011, rmse_deg=1.8, sigma_deg=1.6, ser=0.03)]
    (row,) = comparison_table(ae, rows)
    assert row["pd_gap"] == pytest.approx(0.02) and row["rmse_ratio"] == pytest.approx(1.2)


def test_reproduction_writes_figures_tables_and_summary(tmp_path, monkeypatch):
    models = tmp_path / "models"
    train_sweep(Scenario(), TrainingConfig(omegas=(0.0, 0.09, 1.0), samples_per_stage=1000, batch_size=500),
                models / "nominal")
    monkeypatch.setenv("ISAC_AE_MODELS", str(models))
    out = tmp_path / "out"
    logged = []
    written = Reproduction(out, samples=3000, seed=1, log=logged.append).run(["fig2", "fig3", "fig4", "fig5"])
    names = {p.name for p in written}
    for stem in ("fig2_ser_vs_pd", "fig2_ser_vs_rmse", "fig3_beampatterns", "fig4_rmse_vs_sigma"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    assert "summary.md" in names and (out / "fig2_table.md").read_text().count("\n") == 2 + 3
    assert any("skipping spacing_l30" in line for line in logged)  # no impaired sweep shipped here
