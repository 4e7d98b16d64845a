"""The ``isac-ae`` command line. Angles in degrees at this surface.

Every usage or input error prints one line on stderr and exits with code 2,
before any work starts: values are checked against their ranges, the output
directory is created and written to, and an evaluation's sample size is
checked against its Pfa (see :func:`_check_samples_for_pfa`).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from .pretrained import sweeps_of
from .scenario import (
    MAX_ABS_SNR_DB,
    MAX_ANTENNAS,
    MAX_MESSAGES,
    MAX_SPACING_STD,
    POSITION_MODELS,
    Scenario,
    ScenarioError,
)

EXIT_USAGE = 2
#: Seeds are non-negative and fit torch's and NumPy's generators (the trainer also seeds with seed + 1).
MAX_SEED = 2**63 - 1
#: Most snapshots per evaluation: the H0 scores are held in memory and sorted (8 bytes each, 8 GB at the bound).
MAX_SAMPLES = 10**9
#: Largest training batch: a step holds about 2 kB per sample and model at K = 16 (2 GB per model at the bound).
MAX_BATCH = 2**20
#: Most phases of the baseline sweep: 1 degree steps.
MAX_PHI_STEPS = 360


class UsageError(Exception):
    """Bad command-line input: reported on one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _int_in(low: int, high: Optional[int], what: str):
    """An argparse type: an integer in [low, high] (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"in [{low}, {high if high < 10**7 else format(high, '.3g')}]"
            raise argparse.ArgumentTypeError(f"must be {what} {bounds}, got {value}")
        return value

    return parse


_positive_int = _int_in(1, None, "an integer")
_seed = _int_in(0, MAX_SEED, "a non-negative integer seed")
_samples = _int_in(1, MAX_SAMPLES, "a positive number of snapshots")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _float_list(text: str) -> list[float]:
    """Comma-separated finite numbers, at least one, none empty, no duplicates."""
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated values, got {text!r}")
    if not all(parts):
        raise argparse.ArgumentTypeError(f"empty value in the list {text!r}")
    values = [_finite_float(part) for part in parts]
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"duplicate values in {text!r}")
    return values


def _add_scenario_options(parser: argparse.ArgumentParser) -> None:
    d = Scenario()
    g = parser.add_argument_group("scenario (paper defaults)")
    g.add_argument(
        "--K",
        dest="num_antennas",
        type=int,
        default=d.num_antennas,
        help=f"number of antennas K, at most {MAX_ANTENNAS} (default %(default)s)",
    )
    g.add_argument(
        "--M",
        dest="num_messages",
        type=int,
        default=d.num_messages,
        help=f"number of messages |M|, at most {MAX_MESSAGES}; the baseline's QAM needs a square (default %(default)s)",
    )
    g.add_argument(
        "--snr-comm-db",
        type=_finite_float,
        default=d.snr_comm_db,
        help=f"SNR_c in dB, within +-{MAX_ABS_SNR_DB:g} (default %(default)s)",
    )
    g.add_argument(
        "--snr-radar-db",
        type=_finite_float,
        default=d.snr_radar_db,
        help=f"SNR_r in dB, within +-{MAX_ABS_SNR_DB:g} (default %(default)s)",
    )
    g.add_argument(
        "--target-sector-deg",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=d.target_sector_deg,
        help="prior target sector in degrees (default %(default)s)",
    )
    g.add_argument(
        "--comm-sector-deg",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=d.comm_sector_deg,
        help="comm receiver sector in degrees (default %(default)s)",
    )
    g.add_argument(
        "--p-target",
        type=_finite_float,
        default=d.p_target,
        help="prior probability of a target, in (0, 1) (default %(default)s)",
    )
    g.add_argument(
        "--pfa", type=_finite_float, default=d.pfa, help="target false-alarm probability (default %(default)s)"
    )
    g.add_argument(
        "--spacing-std",
        type=_finite_float,
        default=d.spacing_std,
        help=f"std of the inter-element spacing in wavelengths, at most {MAX_SPACING_STD:g}, e.g. 0.0333 for "
        "lambda/30 (default %(default)s)",
    )
    g.add_argument(
        "--impairment-seed",
        type=_seed,
        default=d.impairment_seed,
        help="seed of the spacing realisation (default %(default)s)",
    )
    g.add_argument(
        "--position-model",
        choices=POSITION_MODELS,
        default=d.position_model,
        help="how spacings become positions (default %(default)s)",
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default %(default)s)")


def _scenario(args) -> Scenario:
    """The scenario of the command's options (ScenarioError when out of range)."""
    return Scenario(
        num_antennas=args.num_antennas,
        num_messages=args.num_messages,
        snr_comm_db=args.snr_comm_db,
        snr_radar_db=args.snr_radar_db,
        target_sector_deg=tuple(args.target_sector_deg),
        comm_sector_deg=tuple(args.comm_sector_deg),
        p_target=args.p_target,
        pfa=args.pfa,
        spacing_std=args.spacing_std,
        impairment_seed=args.impairment_seed,
        position_model=args.position_model,
    )


def _check_rho(rho: float) -> float:
    if not 0.0 <= rho <= 1.0:
        raise UsageError(f"rho must lie in [0, 1], got {rho}")
    return rho


def _check_samples_for_pfa(samples: int, pfa: float) -> None:
    """Refuse an H0 set (as many snapshots as ``--samples``) too small to calibrate a threshold at ``pfa``.

    The rule is the evaluation's (:func:`isac_ae.evaluation.min_h0_samples`): at
    least 10 expected false alarms in the H0 set, ceil(10 / pfa) snapshots, so
    that the threshold is not the H0 maximum; checked here before any work.
    """
    from .evaluation import MIN_EXCEEDANCES, min_h0_samples

    needed = min_h0_samples(pfa)
    if samples < needed:
        raise UsageError(
            f"--samples {samples} is too few for Pfa {pfa:g}: the threshold needs at least {needed} "
            f"H0 snapshots ({MIN_EXCEEDANCES} expected false alarms); raise --samples or --pfa"
        )


def _check_evaluable(scenario: Scenario, samples: int) -> None:
    """What an evaluation at a fixed Pfa needs from the scenario and the sample size."""
    if not 0.0 < scenario.p_target < 1.0:
        raise UsageError(
            f"p_target must lie in (0, 1) here, got {scenario.p_target:g}: Pd needs snapshots with a "
            "target and Pfa snapshots without one"
        )
    _check_samples_for_pfa(samples, scenario.pfa)


def _check_qam(scenario: Scenario) -> None:
    """The baseline's square QAM needs |M| in 4, 16, 64, 256."""
    from .baselines.beams import qam_constellation

    try:
        qam_constellation(scenario.num_messages)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _output_dir(text: str, files=()) -> Path:
    """Create the output directory ``text`` and check that it takes files, before any work starts.

    ``files``: names the command will write in it; none may be an existing directory.
    """
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to output directory {out}: {exc.strerror or exc}") from None
    for name in files:
        if (out / name).is_dir():
            raise UsageError(f"{out / name} is a directory, but this command writes a file there")
    return out


def _device(name: str):
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda requested but no CUDA device is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: there are {torch.cuda.device_count()} CUDA device(s)")
    return device


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    # Logs (no terminal) get an update every 10 s instead of a carriage-return stream.
    interval = 0.2 if sys.stderr.isatty() else 10.0
    return tqdm(
        total=total, desc=desc, unit="snap", unit_scale=True, disable=not enabled, file=sys.stderr, mininterval=interval
    )


def cmd_baseline(args) -> int:
    """One (rho, phi) point of the baseline."""
    from .baselines import BaselineSystem

    scenario = _scenario(args)
    _check_rho(args.rho)
    _check_qam(scenario)
    _check_evaluable(scenario, args.samples)
    device = _device(args.device)
    system = BaselineSystem(scenario, args.rho, math.radians(args.phi_deg), device=device)
    return _evaluate_and_report(args, system, device, {"rho": args.rho, "phi_deg": args.phi_deg})


def _evaluate_and_report(args, system, device, identity: dict, channels=None) -> int:
    """Evaluate ``system`` with the command's --samples/--seed and print the result (or one JSON object).

    ``channels``: what the snapshots go through (default: the simulated channels; a board's in ``hw evaluate``).
    """
    from .evaluation import evaluate

    with _progress(args.samples, args.command, not args.json and sys.stderr.isatty()) as bar:
        try:
            result = evaluate(system, args.samples, args.seed, device, progress=bar.update, channels=channels)
        except ValueError as exc:  # the evaluation's own refusal of its inputs (e.g. too few H0 samples)
            raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps({**identity, "seed": args.seed, **result.to_dict(), "scenario": system.scenario.to_dict()}))
        return 0
    print("  ".join(f"{k} = {v}" for k, v in identity.items()))
    print(f"Pd     = {result.pd:.4f}  (95% CI [{result.pd_ci_low:.4f}, {result.pd_ci_high:.4f}])")
    print(
        f"Pfa    = {result.pfa:.4g}  (95% CI [{result.pfa_ci_low:.4g}, {result.pfa_ci_high:.4g}], "
        f"target {system.scenario.pfa:g})"
    )
    print(
        f"RMSE   = {result.rmse_deg:.3f} deg  (95% CI [{result.rmse_ci_low:.3f}, {result.rmse_ci_high:.3f}]) "
        f"over {result.detected} detected targets"
    )
    if result.sigma_deg is not None:
        print(f"sigma^ = {result.sigma_deg:.3f} deg mean, {result.sigma_rms_deg:.3f} deg RMS over the same targets")
    print(f"SER    = {result.ser:.4g}  (95% CI [{result.ser_ci_low:.4g}, {result.ser_ci_high:.4g}])")
    return 0


#: What baseline-sweep writes besides the plots: the CSV of every point, the fronts as JSON.
SWEEP_FILES = ("baseline_sweep.csv", "baseline_front.json")


def cmd_baseline_sweep(args) -> int:
    """The (rho, phi) sweep, the Pareto fronts, CSV and plots."""
    import numpy as np

    from .plots import plot_tradeoff
    from .tradeoff import DEFAULT_RHOS, baseline_sweep, default_phis, sweep_size, write_csv

    scenario = _scenario(args)
    rhos = [_check_rho(r) for r in (args.rhos or DEFAULT_RHOS)]
    _check_qam(scenario)
    _check_evaluable(scenario, args.samples)
    device = _device(args.device)
    phis = default_phis(args.phi_steps)
    out = _output_dir(args.out, SWEEP_FILES)
    csv_path, front_path = (out / name for name in SWEEP_FILES)
    start = time.perf_counter()
    with _progress(sweep_size(rhos, phis) * args.samples, "baseline sweep", True) as bar:
        try:
            rows = baseline_sweep(scenario, rhos, phis, args.samples, args.seed, device, progress=bar.update)
        except ValueError as exc:  # the evaluation's own refusal of its inputs (e.g. too few H0 samples)
            raise UsageError(str(exc)) from None
    write_csv(rows, csv_path)
    front = {key: [r for r in rows if r[key]] for key in ("front_pd", "front_rmse")}
    front_path.write_text(
        json.dumps({"scenario": scenario.to_dict(), "samples": args.samples, "seed": args.seed, **front}, indent=1)
    )
    figures = plot_tradeoff(rows, out)
    best = max(rows, key=lambda r: r["pd"])
    print(f"{len(rows)} points x {args.samples} snapshots in {time.perf_counter() - start:.1f} s")
    print(f"best Pd {best['pd']:.4f} (SER {best['ser']:.3g}); lowest SER {min(np.array([r['ser'] for r in rows])):.3g}")
    for path in [csv_path, front_path, *figures]:
        print(f"wrote {path}")
    return 0


def _omega(text: str) -> float:
    values = _omega_list(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one omega_r in [0, 1], got {text!r}")
    return values[0]


def _omega_list(text: str) -> list[float]:
    values = _float_list(text)
    for w in values:
        if not 0.0 <= w <= 1.0:
            raise argparse.ArgumentTypeError(f"omega_r must lie in [0, 1], got {w:g}")
    return values


def _training_progress(total_steps: int, done: int, enabled: bool):
    """A tqdm bar over training steps and the callback that feeds it stage and mean losses."""
    from tqdm import tqdm

    bar = tqdm(
        total=total_steps,
        initial=done,
        desc="training",
        unit="step",
        disable=not enabled,
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 30.0,
    )

    def update(report) -> None:
        bar.set_postfix_str(
            f"stage {report.stage_index + 1} {report.stage} {report.step}/{report.steps} "
            f"J_radar {float(report.radar_loss.mean()):.4g} J_CE {float(report.comm_loss.mean()):.4g}",
            refresh=False,
        )
        bar.update(1)

    return bar, update


def cmd_train(args) -> int:
    """Train one model per omega_r (one ensemble), resuming from the output's checkpoint."""
    from .autoencoder import BUDGETS, TrainingConfig, TrainingError
    from .autoencoder.sweep import CHECKPOINT_NAME, output_names, sweep_trainer, write_sweep

    scenario = _scenario(args)
    if not 0.0 < scenario.p_target < 1.0:
        raise UsageError(
            f"p_target must lie in (0, 1) for training, got {scenario.p_target:g}: the detector "
            "learns from snapshots with and without a target"
        )
    samples = args.samples_per_stage or BUDGETS[args.budget]
    if args.batch_size > samples:
        raise UsageError(f"--batch-size {args.batch_size} exceeds the {samples} samples per stage")
    try:
        config = TrainingConfig(
            omegas=tuple(args.omega),
            samples_per_stage=samples,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            schedule=args.schedule,
            seed=args.seed,
            budget=args.budget if not args.samples_per_stage else "custom",
            conditioned=args.conditioned,
            hidden_scale=args.hidden_scale,
            sector_conditioned=args.sector_conditioned,
        )
    except TrainingError as exc:
        raise UsageError(str(exc)) from None
    device = _device(args.device)
    out = _output_dir(args.out, output_names(config))
    trainer = sweep_trainer(scenario, config, out, device)
    if (out / CHECKPOINT_NAME).exists():
        try:
            trainer.load_checkpoint()
        except TrainingError as exc:
            raise UsageError(str(exc)) from None
        print(
            f"resuming from {out / CHECKPOINT_NAME} at step {trainer.steps_done}/{trainer.total_steps}", file=sys.stderr
        )
    start, first_step = time.perf_counter(), trainer.steps_done
    bar, update = _training_progress(trainer.total_steps, first_step, not args.quiet)
    with bar:
        try:
            trainer.run(update)
        except TrainingError as exc:  # diverged
            raise UsageError(str(exc)) from None
    paths = write_sweep(trainer, out, args.command_line)
    seconds = time.perf_counter() - start
    trained = (trainer.total_steps - first_step) * config.batch_size * (config.conditioned or len(config.omegas))
    print(f"trained {len(paths)} model(s) in {seconds:.1f} s ({trained / seconds:.3g} samples x models / s)")
    for path in paths:
        print(f"wrote {path}")
    return 0


def _load(path: str, scenario=None, device="cpu"):
    from .autoencoder.modelfile import ModelFileError, load_model

    try:
        return load_model(Path(path), scenario, device)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from None


def _requested_scenario(args, trained_for: Scenario) -> Scenario:
    """The model's scenario with the options the user gave explicitly (so a mismatch can be caught)."""
    given = {k: getattr(args, k) for k in Scenario().to_dict() if getattr(args, k, None) is not None}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    return trained_for.replace(**given)


def cmd_evaluate(args) -> int:
    """Evaluate one model file at the fixed Pfa through the same path as the baseline."""
    from .autoencoder import AutoencoderSystem
    from .autoencoder.modelfile import scenario_mismatch
    from .autoencoder.sectors import SectorDistribution

    device = _device(args.device)
    loaded = _load(args.model, device=device)
    requested = _requested_scenario(args, loaded.scenario)
    sectors = {"target_sector_deg": requested.target_sector_deg, "comm_sector_deg": requested.comm_sector_deg}
    diff = scenario_mismatch(requested.replace(**_sectors_of(loaded.scenario)), loaded.scenario)
    if diff:
        raise UsageError(f"{args.model} was trained for another scenario ({'; '.join(diff)})")
    if requested != loaded.scenario and not loaded.sector_conditioned:
        raise UsageError(
            f"--target-sector-deg/--comm-sector-deg: {args.model} was trained for the sectors "
            f"{list(loaded.scenario.target_sector_deg)}, {list(loaded.scenario.comm_sector_deg)}; only a "
            "sector-conditioned model (isac-ae train --sector-conditioned) runs at other sectors"
        )
    _check_evaluable(requested, args.samples)
    if args.omega is not None and not loaded.conditioned:
        raise UsageError(f"--omega: {args.model} was trained for omega_r = {loaded.omega:g}; it is not conditioned")
    omega = loaded.omega if args.omega is None else args.omega
    if loaded.sector_conditioned:
        trained_on = SectorDistribution.from_dict(loaded.metadata["conditioning"]["sector_distribution"])
        if not trained_on.contains(requested):
            print(f"note: these sectors lie outside those {args.model} trained on ({trained_on})", file=sys.stderr)
    system = AutoencoderSystem(loaded.model, requested, device, omega if loaded.conditioned else None)
    record = {"model": str(loaded.path), "omega": omega, "conditioned": loaded.conditioned}
    if loaded.sector_conditioned:
        record.update({k: list(v) for k, v in sectors.items()})
    return _evaluate_and_report(args, system, device, record)


def _sectors_of(scenario: Scenario) -> dict:
    return {"target_sector_deg": scenario.target_sector_deg, "comm_sector_deg": scenario.comm_sector_deg}


def cmd_models(args) -> int:
    """List the shipped pretrained models."""
    from .autoencoder.modelfile import ModelFileError, read_metadata
    from .pretrained import models_dir

    try:
        root = Path(args.dir) if args.dir else models_dir()
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    files = sorted(root.glob("*/*.safetensors"))
    if not files:
        raise UsageError(f"no model files (<sweep>/*.safetensors) under {root}")
    entries = []
    for path in files:
        try:
            meta = read_metadata(path)
        except ModelFileError as exc:
            raise UsageError(str(exc)) from None
        sc = meta["scenario"]
        entries.append(
            {
                "path": str(path),
                "sweep": path.parent.name,
                "omega": meta["omega"],
                "spacing_std": sc["spacing_std"],
                "impairment_seed": sc["impairment_seed"],
                "position_model": sc["position_model"],
                "num_antennas": meta["num_antennas"],
                "num_messages": meta["num_messages"],
                "true_positions_wavelengths": meta["true_positions_wavelengths"],
                "training": meta["training"],
                "conditioned": "conditioning" in meta,
                "sector_conditioned": "target_sector" in meta.get("conditioning", {}).get("inputs", []),
                "git_commit": meta.get("git_commit"),
                "command": meta.get("command"),
            }
        )
    entries.sort(key=lambda e: (e["sweep"], e["omega"]))
    if args.json:
        print(json.dumps(entries))
    else:
        for e in entries:
            t = e["training"]
            print(
                f"{e['path']}  omega_r={e['omega']:<8g} spacing_std={e['spacing_std']:<8.4g} "
                f"budget={t.get('budget')} ({t.get('samples_per_stage')} samples/stage, {t.get('schedule')})"
            )
    return 0


def cmd_reproduce(args) -> int:
    """Fig. 2-5 of the paper from the shipped models (or retrained ones), with tables."""
    from .autoencoder.modelfile import ModelFileError
    from .reproduce import FIGURES, IMPAIRED, NOMINAL, Reproduction

    figures = FIGURES if args.figure == "all" else (args.figure,)
    known = {spec.name: spec for spec in IMPAIRED}
    names = [n.strip() for n in args.impairments.split(",")] if args.impairments is not None else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown impairment sweep(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise UsageError(f"duplicate impairment sweeps in {args.impairments!r}")
    for spec in (NOMINAL, *(known[n] for n in names)):
        _check_samples_for_pfa(args.samples, spec.scenario.pfa)
    device = _device(args.device)
    out = _output_dir(args.out)
    start = time.perf_counter()
    with _progress(None, "reproduce", sys.stderr.isatty()) as bar:
        repro = Reproduction(
            out,
            args.samples,
            args.seed,
            device,
            retrain=args.budget if args.retrain else None,
            log=lambda msg: bar.write(msg, file=sys.stdout),
            progress=bar.update,
            impaired=[known[n] for n in names],
        )
        try:
            written = repro.run(figures)
        except (ModelFileError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
    print(f"done in {time.perf_counter() - start:.1f} s")
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_study(args) -> int:
    """Fig. 5 over R impairment realisations x S training seeds (isac_ae.study), through Ray or in this process."""
    from tqdm import tqdm

    from . import study

    if args.sequential and args.workers not in (None, 0):
        raise UsageError("--sequential runs in this process and takes no --workers")
    workers = 0 if args.sequential else args.workers
    if args.address is not None and workers is not None:
        raise UsageError(
            "--address joins a running Ray cluster, whose CPUs set the parallelism: drop --workers and --sequential"
        )
    names = [n.strip() for n in args.impairments.split(",")] if args.impairments is not None else None
    try:
        runs = study.plan(
            study.select_sweeps(args.figure, names), args.realisations, args.seeds, args.budget, args.samples
        )
        if workers != 0:
            study.import_ray(args.address)
    except study.StudyError as exc:
        raise UsageError(str(exc)) from None
    for pfa in {r.scenario.pfa for r in runs}:
        _check_samples_for_pfa(runs[0].samples, pfa)
    out = _output_dir(args.out)
    work = study.Study(runs, out)
    try:
        todo = work.pending()
    except study.StudyError as exc:  # a run file that is not the run it should be
        raise UsageError(str(exc)) from None
    if len(todo) < len(runs):
        print(f"{len(runs) - len(todo)} of {len(runs)} runs already done in {out / 'runs'}", file=sys.stderr)
    # In process: bars over the training steps and the evaluated snapshots; through Ray: over the runs.
    sequential = workers == 0
    steps, step = _training_progress(sum(r.steps for r in todo), 0, sequential)
    snapshots = _progress(None, "evaluation", sequential)
    runs_done = tqdm(total=len(todo), desc="study", unit="run", file=sys.stderr, disable=sequential)

    def finished(run, result) -> None:
        runs_done.write(f"{run.key}: {result['timing']['total_s']:.1f} s", file=sys.stdout)
        runs_done.update(1)

    start = time.perf_counter()
    with steps, snapshots, runs_done:
        try:
            work.run(workers, args.address, finished, step, snapshots.update)
            written = work.report()
        except study.StudyError as exc:
            raise UsageError(str(exc)) from None
    print(f"{len(todo)} run(s) in {time.perf_counter() - start:.1f} s")
    for path in written:
        print(f"wrote {path}")
    return 0


SAMPLES_HELP = (
    "test snapshots, and as many H0 snapshots for the threshold: at least 10 / Pfa (10 expected false "
    f"alarms), at most {MAX_SAMPLES:.0e} (default %(default)s)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="isac-ae", description="End-to-end learned ISAC: simulation, baselines, evaluation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "baseline",
        help="evaluate one (rho, phi) point of the model-based baseline",
        description="Evaluate the LS/ISAC beam + MAPRT + ML baseline at one (rho, phi) at a fixed Pfa.",
    )
    p.add_argument(
        "--rho", type=_finite_float, default=0.5, help="radar share of the ISAC beam, [0, 1] (default %(default)s)"
    )
    p.add_argument(
        "--phi-deg",
        type=_finite_float,
        default=0.0,
        help="relative phase of the comm beam, degrees (default %(default)s)",
    )
    p.add_argument("--samples", type=_samples, default=100_000, help=SAMPLES_HELP)
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser(
        "baseline-sweep",
        help="sweep (rho, phi), write the CSV, Pareto fronts and plots",
        description="Sweep the ISAC beam of eq. (10) over (rho, phi) and extract the Pareto fronts.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--samples",
        type=_samples,
        default=100_000,
        help="test snapshots per point, and as many H0 "
        f"snapshots for the threshold, at least 10 / Pfa, at most {MAX_SAMPLES:.0e} (default %(default)s)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default %(default)s)")
    p.add_argument(
        "--rhos", type=_float_list, default=None, help="comma-separated rho values (default: a grid dense near 0 and 1)"
    )
    p.add_argument(
        "--phi-steps",
        type=_int_in(1, MAX_PHI_STEPS, "a number of phases"),
        default=8,
        help=f"phases phi = 2 pi i / steps, at most {MAX_PHI_STEPS} (default %(default)s)",
    )
    _add_scenario_options(p)
    p.set_defaults(func=cmd_baseline_sweep)

    p = sub.add_parser(
        "train",
        help="train the autoencoder for one or more omega_r (one model file each)",
        description="Train the autoencoder (Sec. III-C); several omega_r train together as one ensemble. "
        "Resumes from OUT/checkpoint.pt if an earlier run was interrupted.",
    )
    p.add_argument(
        "--omega",
        type=_omega_list,
        required=True,
        help="omega_r, one value or a comma-separated list in [0, 1]; with --conditioned the range LOW,HIGH",
    )
    p.add_argument(
        "--conditioned",
        type=_int_in(0, 64, "a number of omega_r draws"),
        default=0,
        metavar="C",
        help="train one model with omega_r as an input, C draws over --omega's range per step (default 0: one "
        "model per omega_r)",
    )
    p.add_argument(
        "--sector-conditioned",
        action="store_true",
        help="with --conditioned: the target and comm sectors are inputs too, drawn per step from widths "
        "10-50 deg (target) and 10-30 deg (comm) within +-60 deg",
    )
    p.add_argument(
        "--hidden-scale",
        type=_int_in(1, 64, "a width factor"),
        default=1,
        help="hidden layers this many times Table I's width (default %(default)s)",
    )
    p.add_argument(
        "--budget",
        choices=("quick", "paper"),
        default="quick",
        help="samples per stage: quick = 2e6, paper = 2e7 (default %(default)s)",
    )
    p.add_argument(
        "--samples-per-stage", type=_positive_int, default=None, help="override the budget's samples per stage"
    )
    p.add_argument(
        "--schedule",
        choices=("staged", "paper", "joint"),
        default="staged",
        help="staged = the paper's three stages + receiver fine-tuning (default); paper = the three stages only; "
        "joint = all six networks at once",
    )
    p.add_argument(
        "--batch-size",
        type=_int_in(1, MAX_BATCH, "a batch size"),
        default=10_000,
        help=f"samples per step, at most {MAX_BATCH} and the samples per stage (default %(default)s)",
    )
    p.add_argument("--lr", type=_finite_float, default=0.01, help="Adam learning rate (default %(default)s)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default %(default)s)")
    p.add_argument("--out", required=True, help="output directory (model files, checkpoint)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="evaluate a model file at the fixed Pfa",
        description="Evaluate a trained model: Pd, empirical Pfa, RMSE, mean sigma, SER. "
        "The scenario is the model's; scenario options given here must agree with it.",
    )
    p.add_argument("model", help="model file (.safetensors)")
    p.add_argument("--samples", type=_samples, default=100_000, help=SAMPLES_HELP)
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default %(default)s)")
    p.add_argument(
        "--omega", type=_omega, default=None, help="a conditioned model's trade-off point (default: its own)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_evaluate, **{k: None for k in Scenario().to_dict()})

    p = sub.add_parser("models", help="list the shipped pretrained models")
    p.add_argument("--dir", default=None, help="models directory (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "reproduce",
        help="reproduce Fig. 2-5 of the paper (figures, CSV, tables)",
        description="Evaluate the shipped pretrained models (or retrain them) against the baseline "
        "and write the paper's figures as PNG and PDF with their tables.",
    )
    p.add_argument("figure", choices=("fig2", "fig3", "fig4", "fig5", "all"), help="which figure")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--samples",
        type=_samples,
        default=1_000_000,
        help=SAMPLES_HELP.replace("test snapshots", "test snapshots per point"),
    )
    p.add_argument("--seed", type=_seed, default=1, help="random seed (default %(default)s)")
    p.add_argument(
        "--impairments",
        default=None,
        help="Fig. 5 sweeps, comma-separated (default: all of "
        + ", ".join(s.name for s in sweeps_of("fig5"))
        + " that exist)",
    )
    p.add_argument(
        "--retrain",
        action="store_true",
        help="train the model sweeps into OUT/models instead of using the shipped ones",
    )
    p.add_argument(
        "--budget",
        choices=("quick", "paper"),
        default="paper",
        help="training budget with --retrain (default %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default %(default)s)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser(
        "study",
        help="Fig. 5 over many impairment realisations and training seeds (medians and spreads)",
        description="Train and evaluate the Fig. 5 comparison (AE trained on the impaired array against the "
        "nominal-designed baseline at matched SER) for R impairment realisations x S training seeds per Fig. 5 "
        "sweep: one run file per (sweep, realisation, seed) in OUT/runs (a study run again skips the finished "
        "ones), then a table and plots of medians and spreads. Runs go through Ray (pip install '.[study]').",
    )
    p.add_argument("figure", choices=("fig5",), help="which figure")
    p.add_argument("--realisations", type=_positive_int, required=True, help="impairment seeds 0..R-1")
    p.add_argument("--seeds", type=_positive_int, required=True, help="training seeds 0..S-1")
    p.add_argument(
        "--budget",
        choices=("tiny", "quick", "paper"),
        default="quick",
        help="per run: tiny = seconds (tests), quick = 2e6 samples per stage and 1e5 test snapshots, "
        "paper = 2e7 and 2e5 (default %(default)s)",
    )
    p.add_argument(
        "--impairments",
        default=None,
        help="Fig. 5 sweeps, comma-separated (default: all of " + ", ".join(s.name for s in sweeps_of("fig5")) + ")",
    )
    p.add_argument("--samples", type=_samples, default=None, help="test snapshots per point (default: the budget's)")
    p.add_argument("--out", default="out/study", help="output directory (default %(default)s)")
    p.add_argument("--address", default=None, help="join the Ray cluster at this address instead of starting one")
    p.add_argument(
        "--workers",
        type=_int_in(0, None, "a number of workers"),
        default=None,
        help="CPUs of the local Ray cluster, one run each (default: all); 0 = in this process, without Ray",
    )
    p.add_argument("--sequential", action="store_true", help="run in this process, without Ray (--workers 0)")
    p.set_defaults(func=cmd_study)

    from .hw.commands import add_hw_parser

    add_hw_parser(sub, _Parser)
    return parser


def main(argv=None) -> int:
    """Run one command; ``argv`` defaults to ``sys.argv[1:]``. Returns the exit code."""
    command_line = shlex.join(sys.argv) if argv is None else shlex.join(["isac-ae", *argv])
    try:
        args = build_parser().parse_args(argv)
        args.command_line = command_line  # recorded in the model files that train writes
        return args.func(args)
    except (UsageError, ScenarioError, argparse.ArgumentTypeError) as exc:
        print(f"isac-ae: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("isac-ae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
