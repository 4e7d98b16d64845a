"""Fig. 5 over many impairment realisations and training seeds: medians and spreads instead of single draws.

A study is a grid of runs. A run is one (Fig. 5 sweep, impairment realisation,
training seed): the sweep's scenario with ``impairment_seed`` = the
realisation, every omega_r of the Fig. 5 grid trained as one ensemble with
the training seed (as :func:`~isac_ae.autoencoder.sweep.train_sweep` does),
each member evaluated at the fixed Pfa, the nominal-designed baseline's front
refined around their SERs on that realisation
(:func:`~isac_ae.reproduce.baseline_front`), and the comparison at matched SER
(:func:`~isac_ae.reproduce.comparison_table`). Every run evaluates with the
same seed (:data:`EVAL_SEED`): all systems of all runs see the same test draws,
so the spread over runs is that of the realisations and the training, not of
the test set (each run keeps its own 95 % intervals).

Layout of the output directory::

    runs/<sweep>_r<realisation>_s<seed>.json   one per run, written atomically when the run ends
    study_fig5.md / study_fig5.json             medians and spreads over the runs, per sweep and omega_r
    study_fig5_<sweep>.png / .pdf               Pd and RMSE at matched SER per omega_r with bands

A study that is run again skips the runs whose file exists (after checking
that the file holds that run with the same configuration: anything else is
refused, never silently redone). Runs go through Ray (the optional ``study``
extra) or in-process (``workers=0``, the reference the Ray path is tested
against); Ray is imported only when it is used. Each run uses one torch
thread: the parallelism is over runs, and the numbers do not depend on where
a run executes (tests/test_study.py checks Ray against in-process).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import matplotlib.pyplot as plt
import numpy as np
import torch

from .atomic import write_atomically
from .autoencoder import Trainer, TrainingConfig, TrainingError
from .autoencoder.modelfile import LoadedModel
from .autoencoder.training import BUDGETS as TRAINING_BUDGETS
from .autoencoder.training import StepReport
from .plots import save_figure
from .pretrained import PretrainedSweep, sweeps_of
from .reproduce import autoencoder_row, baseline_front, comparison_table
from .scenario import Scenario
from .tradeoff import DEFAULT_RHOS

FIGURES = ("fig5",)
FORMAT = "isac_ae.study/1"
#: Seed of every evaluation of every run: the test draws are common to all systems and runs.
EVAL_SEED = 1
EXTRA_MISSING = "Ray is not installed: install the study extra, pip install '.[study]' in the gr-isac_ae checkout"


class StudyError(Exception):
    """Bad study input, a run file that is not the run it should be, or a run that failed."""


@dataclass(frozen=True)
class StudyBudget:
    """Cost of one run: training samples per stage and batch, test snapshots per evaluated point, baseline rho grid."""

    name: str
    samples_per_stage: int
    batch_size: int
    samples: int
    rhos: tuple[float, ...]


#: tiny: a few seconds per run (tests); quick: the training quick budget; paper: the training budget of the
#: shipped models, evaluated at the 2e5 snapshots of the published Fig. 5 tables (docs/REPRODUCTION.md).
BUDGETS = {
    "tiny": StudyBudget("tiny", 20_000, 2_000, 2_000, (0.0, 0.05, 0.2, 0.5, 0.8, 0.95, 1.0)),
    "quick": StudyBudget("quick", TRAINING_BUDGETS["quick"], 10_000, 100_000, DEFAULT_RHOS),
    "paper": StudyBudget("paper", TRAINING_BUDGETS["paper"], 10_000, 200_000, DEFAULT_RHOS),
}


@dataclass(frozen=True)
class Run:
    """One unit of work: a Fig. 5 sweep on one impairment realisation, trained with one seed."""

    sweep: str
    realisation: int
    seed: int
    scenario: Scenario
    training: TrainingConfig
    samples: int
    rhos: tuple[float, ...]

    @property
    def steps(self) -> int:
        """Training steps of the run."""
        return self.training.steps_per_stage * len(self.training.stages)

    @property
    def key(self) -> str:
        return f"{self.sweep}_r{self.realisation}_s{self.seed}"

    def config(self) -> dict:
        """Everything that defines the run's numbers, as it reads back from JSON (what a run file must match)."""
        return json.loads(
            json.dumps(
                {
                    "sweep": self.sweep,
                    "realisation": self.realisation,
                    "seed": self.seed,
                    "scenario": self.scenario.to_dict(),
                    "training": self.training.to_dict(),
                    "samples": self.samples,
                    "eval_seed": EVAL_SEED,
                    "rhos": list(self.rhos),
                }
            )
        )


def select_sweeps(figure: str, names: Optional[list[str]] = None) -> tuple[PretrainedSweep, ...]:
    """The shipped sweeps of ``figure`` named in ``names`` (all by default); StudyError for unknown or repeats."""
    if figure not in FIGURES:
        raise StudyError(f"unknown figure {figure!r}; studies exist for {', '.join(FIGURES)}")
    known = {spec.name: spec for spec in sweeps_of(figure)}
    if names is None:
        return tuple(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StudyError(f"unknown {figure} sweep(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise StudyError(f"duplicate sweeps in {','.join(names)}")
    return tuple(known[n] for n in names)


def plan(
    sweeps: tuple[PretrainedSweep, ...], realisations: int, seeds: int, budget: str, samples: Optional[int] = None
) -> list[Run]:
    """The runs of a study: every sweep x realisations 0..R-1 x training seeds 0..S-1.

    Realisation 0 with seed 0 is the shipped models' array and seed. ``samples``
    (test snapshots per point) overrides the budget's.
    """
    if realisations < 1 or seeds < 1:
        raise StudyError(f"a study needs at least one realisation and one seed, got {realisations} and {seeds}")
    if budget not in BUDGETS:
        raise StudyError(f"unknown budget {budget!r}; one of {', '.join(BUDGETS)}")
    b = BUDGETS[budget]
    return [
        Run(
            spec.name,
            r,
            s,
            spec.scenario.replace(impairment_seed=r),
            TrainingConfig(spec.omegas, b.samples_per_stage, b.batch_size, seed=s, budget=b.name),
            samples or b.samples,
            b.rhos,
        )
        for spec in sweeps
        for r in range(realisations)
        for s in range(seeds)
    ]


# -- one run ----------------------------------------------------------------
@contextmanager
def _one_thread():
    """One torch thread for the duration (runs are the parallelism; the numbers then do not depend on the host)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(run: Run, progress: Optional[Callable[[StepReport], None]] = None) -> Trainer:
    """The run's ensemble (one member per omega_r), trained in memory on the realisation's true array."""
    trainer = Trainer(run.scenario, run.training)
    trainer.run(progress)
    return trainer


def execute(
    run: Run,
    progress: Optional[Callable[[StepReport], None]] = None,
    snapshots: Optional[Callable[[int], None]] = None,
) -> dict:
    """Train, evaluate and compare one run; the content of its run file (JSON-ready). Seconds in ``timing``.

    ``progress``: called after every training step; ``snapshots``: with the number of snapshots each
    evaluation chunk (of the AE and the baseline sweep) completes.
    """
    with _one_thread():
        start = time.perf_counter()
        trainer = train(run, progress)
        trained = time.perf_counter()
        ae = [
            autoencoder_row(
                # "model": the run file that holds the member's numbers (the weights are not kept)
                LoadedModel(
                    trainer.model.member(i),
                    run.scenario,
                    {"omega": omega, "training": run.training.to_dict()},
                    Path("runs", f"{run.key}.json"),
                ),
                run.samples,
                EVAL_SEED,
                progress=snapshots,
                log=_quiet,
            )
            for i, omega in enumerate(run.training.omegas)
        ]
        evaluated = time.perf_counter()
        sers = [r["ser"] for r in ae]
        baseline = baseline_front(
            run.scenario, sers, run.samples, EVAL_SEED, progress=snapshots, log=_quiet, rhos=run.rhos
        )
        end = time.perf_counter()
    return {
        "format": FORMAT,
        "key": run.key,
        "config": run.config(),
        "comparison": comparison_table(ae, baseline),
        "baseline_front": [r for r in baseline if r["front_pd"] or r["front_rmse"]],
        "timing": {
            "train_s": trained - start,
            "evaluate_s": evaluated - trained,
            "baseline_s": end - evaluated,
            "total_s": end - start,
        },
    }


def _quiet(_: str) -> None:
    pass


# -- run files ----------------------------------------------------------------
def run_path(out: Path, run: Run) -> Path:
    return Path(out) / "runs" / f"{run.key}.json"


def load_run(path: Path, run: Run) -> dict:
    """The finished run in ``path``; StudyError naming the file when it is not exactly ``run``'s result."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudyError(f"run file {path} cannot be read ({exc}); delete it to redo the run") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StudyError(f"run file {path} is not a {FORMAT} run file; delete it to redo the run")
    if data.get("key") != run.key:
        raise StudyError(f"run file {path} holds run {data.get('key')!r}, not {run.key!r}; delete it to redo the run")
    differences = _differences(_with_later_defaults(data.get("config")), run.config())
    if differences:
        raise StudyError(
            f"run file {path} was made with another configuration ({'; '.join(differences)}); "
            "use another output directory or delete the file"
        )
    rows = data.get("comparison")
    if not isinstance(rows, list) or [r.get("omega") for r in rows if isinstance(r, dict)] != list(run.training.omegas):
        raise StudyError(f"run file {path} has no comparison row per omega_r; delete it to redo the run")
    return data


def _with_later_defaults(config):
    """A stored run config with the fields added to TrainingConfig and Scenario since it was written set to their
    defaults: a new field's default keeps the old behaviour, so a run made before it existed still matches."""
    if not isinstance(config, dict):
        return config
    config = dict(config)
    for section, cls in (("training", TrainingConfig), ("scenario", Scenario)):
        stored = config.get(section)
        if not isinstance(stored, dict):
            continue
        later = {
            f.name: json.loads(json.dumps(f.default))
            for f in dataclasses.fields(cls)
            if f.name not in stored and f.default is not dataclasses.MISSING
        }
        config[section] = {**stored, **later}
    return config


def _differences(found, expected, prefix: str = "") -> list[str]:
    """``name: found != expected`` for every leaf that differs between two JSON values."""
    if isinstance(found, dict) and isinstance(expected, dict):
        return [
            d
            for k in sorted(set(found) | set(expected))
            for d in _differences(found.get(k), expected.get(k), f"{prefix}{k}.")
        ]
    return [] if found == expected else [f"{prefix.rstrip('.') or 'config'}: {found!r} != {expected!r}"]


def save_run(out: Path, run: Run, result: dict) -> Path:
    """Write the run file atomically (temporary file, fsync, rename): an interruption never leaves half a file."""
    path = run_path(out, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(result, indent=1).encode())
    return path


# -- the study ------------------------------------------------------------------
class Study:
    """The runs of one study in ``out``: which are finished, running the others, and the report over all."""

    def __init__(self, runs: list[Run], out: Path):
        self.runs = list(runs)
        self.out = Path(out)
        if len({r.key for r in self.runs}) != len(self.runs):
            raise StudyError("a study runs every (sweep, realisation, seed) once")

    def finished(self) -> dict[str, dict]:
        """The results already on disk, by key (every existing run file checked, see :func:`load_run`)."""
        return {r.key: load_run(run_path(self.out, r), r) for r in self.runs if run_path(self.out, r).exists()}

    def pending(self) -> list[Run]:
        done = self.finished()
        return [r for r in self.runs if r.key not in done]

    def run(
        self,
        workers: Optional[int],
        address: Optional[str] = None,
        on_run: Optional[Callable[[Run, dict], None]] = None,
        train_progress: Optional[Callable[[StepReport], None]] = None,
        snapshots: Optional[Callable[[int], None]] = None,
    ) -> None:
        """Run every pending run and write its file as it finishes, then ``on_run(run, result)``.

        ``workers`` = 0: in this process, in order (``train_progress`` and
        ``snapshots`` as in :func:`execute`). Otherwise through Ray: a local cluster of ``workers``
        CPUs (None: all of this machine's), or the cluster at ``address`` (then
        ``workers`` is ignored: the cluster's CPUs set the parallelism; every
        node needs this isac_ae installed).
        """
        todo = self.pending()
        if workers == 0 and address is None:
            results = _in_process(todo, train_progress, snapshots)
        else:
            results = _ray_results(todo, workers, address)
        with closing(results):  # shuts Ray down however the loop ends
            for run, result in results:
                save_run(self.out, run, result)
                if on_run is not None:
                    on_run(run, result)

    def report(self) -> list[Path]:
        """The table, the summary JSON and one plot per sweep over every run; StudyError if any run is missing."""
        results = self.finished()
        missing = [r.key for r in self.runs if r.key not in results]
        if missing:
            raise StudyError(f"{len(missing)} run(s) not finished: {', '.join(missing)}")
        summary = summarise(self.runs, results)
        table, data = self.out / "study_fig5.md", self.out / "study_fig5.json"
        table.write_text(markdown(summary))
        data.write_text(json.dumps(summary, indent=1))
        written = [table, data]
        for sweep in summary["sweeps"]:
            written += plot_bands(sweep, self.out / f"study_fig5_{sweep['name']}")
        return written


def _in_process(todo: list[Run], progress, snapshots) -> Iterator[tuple[Run, dict]]:
    """(run, result) for each run in turn; StudyError naming a run that fails as the Ray path does."""
    for run in todo:
        try:
            result = execute(run, progress, snapshots)
        except (TrainingError, ValueError) as exc:  # a diverged training, an evaluation's refusal of its inputs
            raise StudyError(f"run {run.key} failed: {exc}") from exc
        yield run, result


def import_ray(address: Optional[str] = None):
    """The ray module; StudyError with the install line when the study extra is missing, or when nothing
    listens at a host:port ``address`` (Ray would wait minutes for it; "auto" and ray:// are left to Ray)."""
    try:
        import ray
    except ImportError:
        raise StudyError(EXTRA_MISSING) from None
    if address is not None and address != "auto" and "://" not in address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise StudyError(f"a Ray address is host:port, auto or ray://host:port, got {address!r}")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as exc:
            raise StudyError(f"nothing answers at the Ray address {address}: {exc.strerror or exc}") from None
    return ray


def _ray_results(todo: list[Run], workers: Optional[int], address: Optional[str]) -> Iterator[tuple[Run, dict]]:
    """(run, result) as the Ray tasks finish; on a failed run the others are cancelled and StudyError names it."""
    ray = import_ray(address)
    if not todo:
        return
    env = {"OMP_NUM_THREADS": "1"}  # NumPy's BLAS too: one thread per run
    if address is None:
        # Local workers import the very package this process runs, a source checkout included.
        source = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        ray.init(
            address="local",  # a new cluster, never one that `ray start` left running here
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": env},
        )
    else:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, runtime_env={"env_vars": env})
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise StudyError(f"cannot join the Ray cluster at {address}: {exc}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(execute)
        pending = {task.remote(run): run for run in todo}
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            run = pending.pop(ready)
            try:
                result = ray.get(ready)
            except ray.exceptions.RayError as exc:
                for ref in pending:
                    ray.cancel(ref)
                cause = getattr(exc, "cause", None) or exc
                raise StudyError(f"run {run.key} failed: {str(cause).strip().splitlines()[-1]}") from None
            yield run, result
    finally:
        ray.shutdown()


# -- medians and spreads --------------------------------------------------------------
#: The per-run numbers summarised per omega_r (keys of :func:`~isac_ae.reproduce.comparison_table`'s rows).
METRICS = ("pd", "baseline_pd", "pd_gap", "ser", "rmse_deg", "baseline_rmse_deg", "rmse_ratio")


def spread(values) -> dict:
    """Median, quartiles, min and max of the finite ``values`` (NaN: the baseline cannot reach the SER); n counted."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if not v.size:
        return {"median": None, "q25": None, "q75": None, "min": None, "max": None, "n": 0}
    q25, median, q75 = np.percentile(v, [25, 50, 75])
    return {
        "median": float(median),
        "q25": float(q25),
        "q75": float(q75),
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def seeds_and_realisations(values: dict[tuple[int, int], Optional[float]]) -> dict:
    """Where a metric's spread comes from: ``values`` by (realisation, seed). "seeds": the median over
    realisations of the range over their seeds (the training's share); "realisations": the range over
    realisations of their mean over seeds (the arrays' share). None where too few finite values (one seed:
    no seed range)."""
    groups: dict[int, list[float]] = {}
    for (realisation, _), value in values.items():
        if value is not None and math.isfinite(value):
            groups.setdefault(realisation, []).append(value)
    within = [max(g) - min(g) for g in groups.values() if len(g) > 1]
    means = [float(np.mean(g)) for g in groups.values()]
    return {
        "seeds": float(np.median(within)) if within else None,
        "realisations": max(means) - min(means) if len(means) > 1 else None,
    }


def summarise(runs: list[Run], results: dict[str, dict]) -> dict:
    """Per sweep and omega_r: the spread of every metric over the sweep's runs, how many runs resolve the AE
    ahead of (pd_gap range above 0) or behind (below 0) the baseline, and the Pd gap's spread split into the
    seeds' and the realisations' shares (:func:`seeds_and_realisations`)."""
    sweeps = []
    for name in dict.fromkeys(r.sweep for r in runs):
        mine = [r for r in runs if r.sweep == name]
        tables = [results[r.key]["comparison"] for r in mine]
        rows = []
        for i, omega in enumerate(mine[0].training.omegas):
            at = [t[i] for t in tables]
            rows.append(
                {
                    "omega": omega,
                    "runs": len(at),
                    **{m: spread(r[m] for r in at) for m in METRICS},
                    "ahead": sum(r["pd_gap_low"] > 0 for r in at),
                    "behind": sum(r["pd_gap_high"] < 0 for r in at),
                    "pd_gap_ranges": seeds_and_realisations(
                        {(run.realisation, run.seed): r["pd_gap"] for run, r in zip(mine, at)}
                    ),
                }
            )
        spec = {s.name: s for s in sweeps_of("fig5")}[name]
        sweeps.append(
            {
                "name": name,
                "label": spec.label,
                "realisations": sorted({r.realisation for r in mine}),
                "seeds": sorted({r.seed for r in mine}),
                "budget": mine[0].training.budget,
                "samples": mine[0].samples,
                "run_seconds": spread(results[r.key]["timing"]["total_s"] for r in mine),
                "rows": rows,
            }
        )
    return {"format": FORMAT, "eval_seed": EVAL_SEED, "sweeps": sweeps}


def markdown(summary: dict) -> str:
    """The study table: per sweep and omega_r, median [min, max] over the runs of each metric."""
    lines = [
        "# Fig. 5 over impairment realisations and training seeds",
        "",
        "Each cell: median [min, max] over the runs (quartiles in study_fig5.json). With several training "
        "seeds, the last column splits the Pd gap's spread: the median over realisations of its range over "
        "their seeds, and the range over realisations of its mean over seeds. Baseline figures are the "
        "nominal-designed baseline's Pareto front at the AE's SER on the same realisation; 'reached' counts the "
        "runs where the front reaches that SER, 'ahead / behind' those whose Pd gap is resolved above / below 0 "
        f"(95 % ranges). All evaluations use seed {summary['eval_seed']} (the same test draws).",
    ]
    for sweep in summary["sweeps"]:
        r, s = sweep["realisations"], sweep["seeds"]
        several_seeds = len(s) > 1  # the seeds / realisations split has a column
        lines += [
            "",
            f"## {sweep['label']} ({sweep['name']})",
            "",
            f"{len(r)} realisation(s) (impairment seeds {_seeds(r)}) x {len(s)} training seed(s) ({_seeds(s)}), "
            f"budget {sweep['budget']}, {sweep['samples']} test snapshots per point; "
            f"{_cell(sweep['run_seconds'], '.1f')} s per run.",
            "",
            "| omega_r | AE Pd | baseline Pd at AE SER | Pd - baseline | reached | ahead / behind | AE SER | "
            "AE RMSE (deg) | baseline RMSE (deg) | RMSE / baseline |"
            + (" Pd - baseline range: seeds / realisations |" if several_seeds else ""),
            "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if several_seeds else ""),
        ]
        for row in sweep["rows"]:
            ranges = row["pd_gap_ranges"]
            lines.append(
                f"| {row['omega']:g} | {_cell(row['pd'], '.4f')} | {_cell(row['baseline_pd'], '.4f')} | "
                f"{_cell(row['pd_gap'], '+.4f')} | {row['baseline_pd']['n']}/{row['runs']} | "
                f"{row['ahead']} / {row['behind']} | {_cell(row['ser'], '.3g')} | {_cell(row['rmse_deg'], '.3f')} | "
                f"{_cell(row['baseline_rmse_deg'], '.3f')} | {_cell(row['rmse_ratio'], '.2f')} |"
                + (f" {_number(ranges['seeds'])} / {_number(ranges['realisations'])} |" if several_seeds else "")
            )
    return "\n".join(lines) + "\n"


def _cell(s: dict, spec: str) -> str:
    if s["n"] == 0:
        return "n/a"
    return f"{s['median']:{spec}} [{s['min']:{spec}}, {s['max']:{spec}}]"


def _number(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _seeds(values: list[int]) -> str:
    if len(values) > 1 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ", ".join(map(str, values))


def plot_bands(sweep: dict, stem: Path) -> list[Path]:
    """Pd and RMSE per omega_r of the AE and of the baseline at the AE's SER: median line, quartile band
    (darker) and min-max band (lighter) over the runs. omega_r on an even axis (its grid spans 0 to 1 unevenly)."""
    rows = sweep["rows"]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0))
    for ax, (metric, ylabel) in zip(
        axes,
        (
            (("pd", "baseline_pd"), r"detection probability $P_d$"),
            (("rmse_deg", "baseline_rmse_deg"), "AoA RMSE (deg)"),
        ),
    ):
        for key, label, color in zip(metric, ("autoencoder", "baseline at the AE's SER"), ("C0", "k")):
            stats = {
                k: np.array([np.nan if r[key][k] is None else r[key][k] for r in rows])
                for k in ("median", "q25", "q75", "min", "max")
            }
            ax.fill_between(x, stats["min"], stats["max"], color=color, alpha=0.12, lw=0)
            ax.fill_between(x, stats["q25"], stats["q75"], color=color, alpha=0.3, lw=0)
            ax.plot(x, stats["median"], "-o", color=color, ms=3, label=f"{label}: median, quartiles, min-max")
        ax.set_xticks(x, [f"{r['omega']:g}" for r in rows], rotation=45, fontsize=7)
        ax.set_xlabel(r"$\omega_r$")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"{sweep['label']}: {len(sweep['realisations'])} realisation(s) x {len(sweep['seeds'])} seed(s), "
        f"budget {sweep['budget']}",
        fontsize=9,
    )
    return save_figure(fig, stem)
