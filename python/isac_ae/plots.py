"""Figures of the ISAC trade-off (matplotlib, written as PNG and PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .tradeoff import FRONTS  # noqa: E402


def save_figure(fig, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def _error(rows, key: str, low: str, high: str) -> np.ndarray:
    """(2, P) distances from each value down to ``low`` and up to ``high``, for errorbar."""
    value, below, above = (np.array([r[k] for r in rows], dtype=float) for k in (key, low, high))
    return np.array([value - below, above - value])


def plot_tradeoff(rows, out_dir: Path, title: str = "", extra_series=(), prefix: str = "baseline") -> list[Path]:
    """SER vs Pd and SER vs RMSE of a baseline sweep (``rows`` from :func:`baseline_sweep`).

    The Pareto front is drawn as straight segments between its points, which
    on the log SER axis is the interpolation the comparison uses; front points
    carry their 95 % intervals. extra_series: optional (label, rows) pairs
    (e.g. autoencoder points) drawn as markers over the baseline, with their
    metric and SER intervals. Files: ``<prefix>_ser_vs_pd`` and
    ``<prefix>_ser_vs_rmse`` (.png, .pdf). Returns the written paths.
    """
    return plot_fronts([("baseline", rows)], out_dir, title, extra_series, prefix)


def plot_fronts(fronts, out_dir: Path, title: str = "", extra_series=(), prefix: str = "baseline") -> list[Path]:
    """:func:`plot_tradeoff` for several baseline designs: fronts is a list of (label, sweep rows).

    With one design every swept point is drawn too (grey), with several only their fronts.
    """
    written = []
    for metric, xlabel, stem in (
        ("pd", r"detection probability $P_d$", f"{prefix}_ser_vs_pd"),
        ("rmse_deg", "AoA RMSE (degrees)", f"{prefix}_ser_vs_rmse"),
    ):
        front_key, _, low, high = FRONTS[metric]
        fig, ax = plt.subplots(figsize=(5.5, 4.0))
        for i, (name, rows) in enumerate(fronts):
            if len(fronts) == 1:
                ax.scatter(
                    [r[metric] for r in rows],
                    [r["ser"] for r in rows],
                    s=10,
                    color="0.7",
                    label=f"{name} (all rho, phi)",
                )
            front = sorted((r for r in rows if r[front_key]), key=lambda r: r["ser"])
            ax.errorbar(
                [r[metric] for r in front],
                [r["ser"] for r in front],
                xerr=_error(front, metric, low, high),
                fmt="-o",
                color="k" if i == 0 else f"C{i + 3}",
                ms=3,
                elinewidth=0.8,
                label=f"{name} Pareto front (95 % CI)",
            )
        for label, series in extra_series:
            ax.errorbar(
                [r[metric] for r in series],
                [r["ser"] for r in series],
                xerr=_error(series, metric, low, high),
                yerr=_error(series, "ser", "ser_ci_low", "ser_ci_high"),
                fmt="s",
                ms=4,
                elinewidth=0.8,
                label=label,
            )
            for r in series:
                if "omega" in r:
                    ax.annotate(
                        f"{r['omega']:g}", (r[metric], r["ser"]), fontsize=6, xytext=(3, 3), textcoords="offset points"
                    )
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("symbol error rate")
        ax.grid(True, which="both", alpha=0.3)
        first = fronts[0][1][0]
        pfa = first.get("target_pfa") or first.get("pfa")
        ax.set_title(title or f"ISAC trade-off at $P_{{fa}}$ = {pfa:.0e}")
        ax.legend(fontsize=7 if len(fronts) > 1 else 8)
        written += save_figure(fig, Path(out_dir) / stem)
    return written


def plot_beampatterns(patterns, scenario, out_dir: Path, stem: str = "fig3_beampatterns") -> list[Path]:
    """Fig. 3: E(phi) = E_m |a(phi)^T y(m)|^2 for several omega_r, both sectors shaded.

    patterns: (label, angles_deg (P,), energy (P,)) triples.
    """
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.axvspan(*scenario.target_sector_deg, color="tab:red", alpha=0.12, label="target sector")
    ax.axvspan(*scenario.comm_sector_deg, color="tab:blue", alpha=0.12, label="comm sector")
    for label, angles, energy in patterns:
        ax.plot(angles, energy, lw=1.2, label=label)
    ax.set_xlabel(r"direction $\phi$ (degrees)")
    ax.set_ylabel(r"$E(\phi) = |a(\phi)^T y|^2$")
    ax.set_xlim(-90, 90)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("learned beampatterns")
    return save_figure(fig, Path(out_dir) / stem)


def plot_rmse_vs_sigma(rows, out_dir: Path, stem: str = "fig4_rmse_vs_sigma") -> list[Path]:
    """Fig. 4: AoA RMSE (with its 95 % interval) against the mean predicted sigma across omega_r.

    Where the rows carry ``sigma_rms_deg`` (root of the mean predicted variance, the RMSE a
    calibrated sigma implies), it is drawn too; the RMSE = sigma line for reference.
    """
    fig, ax = plt.subplots(figsize=(4.5, 4.0))
    sigma = [r["sigma_deg"] for r in rows]
    rmse = [r["rmse_deg"] for r in rows]
    yerr = _error(rows, "rmse_deg", "rmse_ci_low", "rmse_ci_high")
    ax.errorbar(sigma, rmse, yerr=yerr, fmt="o", elinewidth=0.8, label=r"autoencoder, mean $\hat\sigma$")
    if all(r.get("sigma_rms_deg") is not None for r in rows):
        rms = [r["sigma_rms_deg"] for r in rows]
        ax.errorbar(
            rms, rmse, yerr=yerr, fmt="x", color="tab:orange", elinewidth=0.8, label=r"autoencoder, RMS $\hat\sigma$"
        )
        sigma = sigma + rms
    for r in rows:
        ax.annotate(
            f"{r['omega']:g}", (r["sigma_deg"], r["rmse_deg"]), fontsize=6, xytext=(3, 3), textcoords="offset points"
        )
    top = 1.1 * max(sigma + [r["rmse_ci_high"] for r in rows])
    ax.plot([0, top], [0, top], "k--", lw=1, label=r"RMSE = $\hat\sigma$")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(r"predicted $\hat\sigma_{\hat\theta}$ over detected targets (degrees)")
    ax.set_ylabel("AoA RMSE (degrees)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, Path(out_dir) / stem)
