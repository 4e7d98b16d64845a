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
    from .evaluation import evaluate

    scenario = _scenario(args)
    device = _device(args.device)
    system = BaselineSystem(scenario, _check_rho(args.rho), math.radians(args.phi_deg), device=device)
    with _progress(args.samples, "baseline", not args.json and sys.stderr.isatty()) as bar:
        result = evaluate(system, args.samples, args.seed, device, progress=bar.update)
    out = {"rho": args.rho, "phi_deg": args.phi_deg, "seed": args.seed, **result.to_dict(),
           "scenario": scenario.to_dict()}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"Pd   = {result.pd:.4f}")
        print(f"Pfa  = {result.pfa:.4g}  (95% CI [{result.pfa_ci_low:.4g}, {result.pfa_ci_high:.4g}], target {scenario.pfa:g})")
        print(f"RMSE = {result.rmse_deg:.3f} deg over {result.detected} detected targets")
        print(f"SER  = {result.ser:.4g}")
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
