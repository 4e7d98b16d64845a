"""Figures of the ISAC trade-off (matplotlib, written as PNG and PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def plot_tradeoff(rows, out_dir: Path, title: str = "", extra_series=()) -> list[Path]:
    """SER vs Pd and SER vs RMSE of a baseline sweep (``rows`` from :func:`baseline_sweep`).

    extra_series: optional (label, rows) pairs (e.g. autoencoder points) drawn
    as markers over the baseline. Returns the written paths.
    """
    written = []
    for metric, front_key, xlabel, stem in (
        ("pd", "front_pd", r"detection probability $P_d$", "baseline_ser_vs_pd"),
        ("rmse_deg", "front_rmse", "AoA RMSE (degrees)", "baseline_ser_vs_rmse"),
    ):
        fig, ax = plt.subplots(figsize=(5.5, 4.0))
        ax.scatter([r[metric] for r in rows], [r["ser"] for r in rows], s=10, color="0.7", label="baseline (all rho, phi)")
        front = sorted((r for r in rows if r[front_key]), key=lambda r: r[metric])
        ax.plot([r[metric] for r in front], [r["ser"] for r in front], "k-o", ms=3, label="baseline Pareto front")
        for label, series in extra_series:
            ax.plot([r[metric] for r in series], [r["ser"] for r in series], "s", ms=5, label=label)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("symbol error rate")
        ax.grid(True, which="both", alpha=0.3)
        pfa = rows[0].get("target_pfa") or rows[0].get("pfa")
        ax.set_title(title or f"ISAC trade-off at $P_{{fa}}$ = {pfa:.0e}")
        ax.legend(fontsize=8)
        written += _save(fig, Path(out_dir) / stem)
    return written
