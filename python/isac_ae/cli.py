"""The ``isac-ae`` command line. Angles in degrees at this surface.

Every usage or input error prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from .scenario import POSITION_MODELS, Scenario, ScenarioError

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: reported on one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _float_list(text: str) -> list[float]:
    return [_finite_float(part) for part in text.split(",") if part.strip()]


def _add_scenario_options(parser: argparse.ArgumentParser) -> None:
    d = Scenario()
    g = parser.add_argument_group("scenario (paper defaults)")
    g.add_argument("--K", dest="num_antennas", type=int, default=d.num_antennas, help="number of antennas K (default %(default)s)")
    g.add_argument("--M", dest="num_messages", type=int, default=d.num_messages, help="number of messages |M| (default %(default)s)")
    g.add_argument("--snr-comm-db", type=_finite_float, default=d.snr_comm_db, help="SNR_c in dB (default %(default)s)")
    g.add_argument("--snr-radar-db", type=_finite_float, default=d.snr_radar_db, help="SNR_r in dB (default %(default)s)")
    g.add_argument("--target-sector-deg", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=d.target_sector_deg,
                   help="prior target sector in degrees (default %(default)s)")
    g.add_argument("--comm-sector-deg", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=d.comm_sector_deg,
                   help="comm receiver sector in degrees (default %(default)s)")
    g.add_argument("--p-target", type=_finite_float, default=d.p_target, help="prior probability of a target (default %(default)s)")
    g.add_argument("--pfa", type=_finite_float, default=d.pfa, help="target false-alarm probability (default %(default)s)")
    g.add_argument("--spacing-std", type=_finite_float, default=d.spacing_std,
                   help="std of the inter-element spacing in wavelengths, e.g. 0.0333 for lambda/30 (default %(default)s)")
    g.add_argument("--impairment-seed", type=int, default=d.impairment_seed, help="seed of the spacing realisation (default %(default)s)")
    g.add_argument("--position-model", choices=POSITION_MODELS, default=d.position_model,
                   help="how spacings become positions (default %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default %(default)s)")


def _scenario(args) -> Scenario:
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


def _device(name: str):
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"unknown device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but no CUDA device is available")
    return device


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    # Logs (no terminal) get an update every 10 s instead of a carriage-return stream.
    interval = 0.2 if sys.stderr.isatty() else 10.0
    return tqdm(total=total, desc=desc, unit="snap", unit_scale=True, disable=not enabled, file=sys.stderr,
                mininterval=interval)


def cmd_baseline(args) -> int:
    """One (rho, phi) point of the baseline."""
    from .baselines import BaselineSystem

    scenario = _scenario(args)
    device = _device(args.device)
    system = BaselineSystem(scenario, _check_rho(args.rho), math.radians(args.phi_deg), device=device)
    return _evaluate_and_report(args, system, device, {"rho": args.rho, "phi_deg": args.phi_deg})


def _evaluate_and_report(args, system, device, identity: dict) -> int:
    """Evaluate ``system`` with the command's --samples/--seed and print the result (or one JSON object)."""
    from .evaluation import evaluate

    with _progress(args.samples, args.command, not args.json and sys.stderr.isatty()) as bar:
        result = evaluate(system, args.samples, args.seed, device, progress=bar.update)
    if args.json:
        print(json.dumps({**identity, "seed": args.seed, **result.to_dict(), "scenario": system.scenario.to_dict()}))
        return 0
    print("  ".join(f"{k} = {v}" for k, v in identity.items()))
    print(f"Pd     = {result.pd:.4f}")
    print(f"Pfa    = {result.pfa:.4g}  (95% CI [{result.pfa_ci_low:.4g}, {result.pfa_ci_high:.4g}], "
          f"target {system.scenario.pfa:g})")
    print(f"RMSE   = {result.rmse_deg:.3f} deg over {result.detected} detected targets")
    if result.sigma_deg is not None:
        print(f"sigma^ = {result.sigma_deg:.3f} deg mean, {result.sigma_rms_deg:.3f} deg RMS over the same targets")
    print(f"SER    = {result.ser:.4g}")
    return 0


def cmd_baseline_sweep(args) -> int:
    """The (rho, phi) sweep, the Pareto fronts, CSV and plots."""
    import numpy as np

    from .plots import plot_tradeoff
    from .tradeoff import DEFAULT_RHOS, baseline_sweep, default_phis, sweep_size, write_csv

    scenario = _scenario(args)
    device = _device(args.device)
    rhos = [_check_rho(r) for r in (args.rhos or DEFAULT_RHOS)]
    phis = default_phis(args.phi_steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with _progress(sweep_size(rhos, phis) * args.samples, "baseline sweep", True) as bar:
        rows = baseline_sweep(scenario, rhos, phis, args.samples, args.seed, device, progress=bar.update)
    csv_path = out / "baseline_sweep.csv"
    write_csv(rows, csv_path)
    front_path = out / "baseline_front.json"
    front = {key: [r for r in rows if r[key]] for key in ("front_pd", "front_rmse")}
    front_path.write_text(json.dumps({"scenario": scenario.to_dict(), "samples": args.samples, "seed": args.seed, **front}, indent=1))
    figures = plot_tradeoff(rows, out)
    best = max(rows, key=lambda r: r["pd"])
    print(f"{len(rows)} points x {args.samples} snapshots in {time.perf_counter() - start:.1f} s")
    print(f"best Pd {best['pd']:.4f} (SER {best['ser']:.3g}); lowest SER {min(np.array([r['ser'] for r in rows])):.3g}")
    for path in [csv_path, front_path, *figures]:
        print(f"wrote {path}")
    return 0


def _omega_list(text: str) -> list[float]:
    values = _float_list(text)
    if not values:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated omega_r values, got {text!r}")
    for w in values:
        if not 0.0 <= w <= 1.0:
            raise argparse.ArgumentTypeError(f"omega_r must lie in [0, 1], got {w:g}")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"duplicate omega_r values in {text!r}")
    return values


def _training_progress(total_steps: int, done: int, enabled: bool):
    """A tqdm bar over training steps and the callback that feeds it stage and mean losses."""
    from tqdm import tqdm

    bar = tqdm(total=total_steps, initial=done, desc="training", unit="step", disable=not enabled, file=sys.stderr,
               mininterval=0.5 if sys.stderr.isatty() else 30.0)

    def update(report) -> None:
        bar.set_postfix_str(f"stage {report.stage_index + 1} {report.stage} {report.step}/{report.steps} "
                            f"J_radar {float(report.radar_loss.mean()):.4g} J_CE {float(report.comm_loss.mean()):.4g}",
                            refresh=False)
        bar.update(1)

    return bar, update


def cmd_train(args) -> int:
    """Train one model per omega_r (one ensemble), resuming from the output's checkpoint."""
    from .autoencoder import BUDGETS, TrainingConfig, TrainingError
    from .autoencoder.sweep import CHECKPOINT_NAME, sweep_trainer, write_sweep

    scenario = _scenario(args)
    device = _device(args.device)
    samples = args.samples_per_stage or BUDGETS[args.budget]
    try:
        config = TrainingConfig(omegas=tuple(args.omega), samples_per_stage=samples, batch_size=args.batch_size,
                                learning_rate=args.lr, schedule=args.schedule, seed=args.seed,
                                budget=args.budget if not args.samples_per_stage else "custom")
    except TrainingError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    trainer = sweep_trainer(scenario, config, out, device)
    if (out / CHECKPOINT_NAME).exists():
        try:
            trainer.load_checkpoint()
        except TrainingError as exc:
            raise UsageError(str(exc)) from None
        print(f"resuming from {out / CHECKPOINT_NAME} at step {trainer.steps_done}/{trainer.total_steps}",
              file=sys.stderr)
    start, first_step = time.perf_counter(), trainer.steps_done
    bar, update = _training_progress(trainer.total_steps, first_step, not args.quiet)
    with bar:
        trainer.run(update)
    paths = write_sweep(trainer, out)
    seconds = time.perf_counter() - start
    trained = (trainer.total_steps - first_step) * config.batch_size * len(config.omegas)
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

    device = _device(args.device)
    loaded = _load(args.model, device=device)
    requested = _requested_scenario(args, loaded.scenario)
    diff = scenario_mismatch(requested, loaded.scenario)
    if diff:
        raise UsageError(f"{args.model} was trained for another scenario ({'; '.join(diff)})")
    system = AutoencoderSystem(loaded.model, loaded.scenario, device)
    return _evaluate_and_report(args, system, device, {"model": str(loaded.path), "omega": loaded.omega})


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
        entries.append({
            "path": str(path), "sweep": path.parent.name, "omega": meta["omega"],
            "spacing_std": sc["spacing_std"], "impairment_seed": sc["impairment_seed"],
            "position_model": sc["position_model"], "num_antennas": meta["num_antennas"],
            "num_messages": meta["num_messages"], "true_positions_wavelengths": meta["true_positions_wavelengths"],
            "training": meta["training"],
        })
    entries.sort(key=lambda e: (e["sweep"], e["omega"]))
    if args.json:
        print(json.dumps(entries))
    else:
        for e in entries:
            t = e["training"]
            print(f"{e['path']}  omega_r={e['omega']:<8g} spacing_std={e['spacing_std']:<8.4g} "
                  f"budget={t.get('budget')} ({t.get('samples_per_stage')} samples/stage, {t.get('schedule')})")
    return 0


def cmd_reproduce(args) -> int:
    """Fig. 2-5 of the paper from the shipped models (or retrained ones), with tables."""
    from .autoencoder.modelfile import ModelFileError
    from .reproduce import FIGURES, IMPAIRED, Reproduction

    figures = FIGURES if args.figure == "all" else (args.figure,)
    known = {spec.name: spec for spec in IMPAIRED}
    names = args.impairments.split(",") if args.impairments else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown impairment sweep(s) {', '.join(unknown)}; known: {', '.join(known)}")
    device = _device(args.device)
    start = time.perf_counter()
    with _progress(None, "reproduce", sys.stderr.isatty()) as bar:
        repro = Reproduction(Path(args.out), args.samples, args.seed, device,
                             retrain=args.budget if args.retrain else None,
                             log=lambda msg: bar.write(msg, file=sys.stdout), progress=bar.update,
                             impaired=[known[n] for n in names])
        try:
            written = repro.run(figures)
        except (ModelFileError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
    print(f"done in {time.perf_counter() - start:.1f} s")
    for path in written:
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="isac-ae", description="End-to-end learned ISAC: simulation, baselines, evaluation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("baseline", help="evaluate one (rho, phi) point of the model-based baseline",
                       description="Evaluate the LS/ISAC beam + MAPRT + ML baseline at one (rho, phi) at a fixed Pfa.")
    p.add_argument("--rho", type=_finite_float, default=0.5, help="radar share of the ISAC beam, [0, 1] (default %(default)s)")
    p.add_argument("--phi-deg", type=_finite_float, default=0.0, help="relative phase of the comm beam, degrees (default %(default)s)")
    p.add_argument("--samples", type=_positive_int, default=100_000, help="test snapshots, and as many H0 snapshots (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("baseline-sweep", help="sweep (rho, phi), write the CSV, Pareto fronts and plots",
                       description="Sweep the ISAC beam of eq. (10) over (rho, phi) and extract the Pareto fronts.")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--samples", type=_positive_int, default=100_000, help="test snapshots per point (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--rhos", type=_float_list, default=None, help="comma-separated rho values (default: a grid dense near 0 and 1)")
    p.add_argument("--phi-steps", type=_positive_int, default=8, help="phases phi = 2 pi i / steps (default %(default)s)")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_baseline_sweep)

    p = sub.add_parser("train", help="train the autoencoder for one or more omega_r (one model file each)",
                       description="Train the autoencoder (Sec. III-C); several omega_r train together as one ensemble. "
                                   "Resumes from OUT/checkpoint.pt if an earlier run was interrupted.")
    p.add_argument("--omega", type=_omega_list, required=True, help="omega_r, one value or a comma-separated list in [0, 1]")
    p.add_argument("--budget", choices=("quick", "paper"), default="quick",
                   help="samples per stage: quick = 2e6, paper = 2e7 (default %(default)s)")
    p.add_argument("--samples-per-stage", type=_positive_int, default=None, help="override the budget's samples per stage")
    p.add_argument("--schedule", choices=("staged", "paper", "joint"), default="staged",
                   help="staged = the paper's three stages + receiver fine-tuning (default); paper = the three stages only; "
                        "joint = all six networks at once")
    p.add_argument("--batch-size", type=_positive_int, default=10_000, help="samples per step (default %(default)s)")
    p.add_argument("--lr", type=_finite_float, default=0.01, help="Adam learning rate (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--out", required=True, help="output directory (model files, checkpoint)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a model file at the fixed Pfa",
                       description="Evaluate a trained model: Pd, empirical Pfa, RMSE, mean sigma, SER. "
                                   "The scenario is the model's; scenario options given here must agree with it.")
    p.add_argument("model", help="model file (.safetensors)")
    p.add_argument("--samples", type=_positive_int, default=100_000, help="test snapshots, and as many H0 snapshots (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_scenario_options(p)
    p.set_defaults(func=cmd_evaluate, **{k: None for k in Scenario().to_dict()})

    p = sub.add_parser("models", help="list the shipped pretrained models")
    p.add_argument("--dir", default=None, help="models directory (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("reproduce", help="reproduce Fig. 2-5 of the paper (figures, CSV, tables)",
                       description="Evaluate the shipped pretrained models (or retrain them) against the baseline "
                                   "and write the paper's figures as PNG and PDF with their tables.")
    p.add_argument("figure", choices=("fig2", "fig3", "fig4", "fig5", "all"), help="which figure")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--samples", type=_positive_int, default=1_000_000,
                   help="test snapshots per point, and as many H0 snapshots (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    p.add_argument("--impairments", default=None,
                   help="Fig. 5 sweeps, comma-separated (default: all of spacing_l30, spacing_l15, spacing_l30_scaled, "
                        "spacing_l15_scaled that exist)")
    p.add_argument("--retrain", action="store_true", help="train the model sweeps into OUT/models instead of using the shipped ones")
    p.add_argument("--budget", choices=("quick", "paper"), default="paper", help="training budget with --retrain (default %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default %(default)s)")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, ScenarioError, argparse.ArgumentTypeError) as exc:
        print(f"isac-ae: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("isac-ae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
