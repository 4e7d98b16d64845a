#!/usr/bin/env python3
"""The fine-tuning results table of docs/HARDWARE.md: every method against the baselines on Quad-MxFE twins.

For each twin seed: the calibration and the manifold are measured through pyadi-iio and the emulator (as
``isac-ae hw calibrate`` and ``hw manifold`` do), captures are recorded with the nominal model's transmitter
(as ``isac-ae hw capture`` does), the shipped nominal omega_r = 0.09 model is fine-tuned with each method at
one budget, and every system is evaluated at the scenario's Pfa on the twin's TRUE channels in process (the
same test draws for all systems of a seed: common random numbers). The table aggregates the seeds as median
[min, max]; the JSON holds every number (each seed's 95 % intervals, budgets, the methods' own metadata).

The baseline is designed four ways (:mod:`isac_ae.baselines.steering`): for the nominal array (the paper),
for the calibrated array model (measured gains, nominal positions, no coupling: the matched filter of the
calibrated array, stronger than correcting the snapshots and running the nominal design), with the steering
dictionary learned from the measured manifold, and for the twin's true array (an oracle no bench has). Each
design is swept over (rho, phi) on the twin and compared with every AE at the AE's own SER on its Pareto
front (:func:`isac_ae.tradeoff.front_at_ser`); the first table also lists each design's point at rho = 0.5,
phi = 0 (on the nominal array in simulation its SER, 0.0034, is close to the AE's 0.0032).

With ``--tradeoff-seed S`` the script instead draws the Fig. 2-style trade-off on twin S: the surrogate
method fine-tunes every omega_r model of the nominal sweep, and the AE points (calibrated and fine-tuned) are
plotted over the four baseline fronts, swept on a wider (rho, phi) grid.

    nice -n 5 python scripts/finetune_study.py --seeds 0 1 2 3 4 --budget quick --samples 100000 --out DIR
    nice -n 5 python scripts/finetune_study.py --tradeoff-seed 0 --budget quick --samples 100000 --out DIR

Runs torch on one thread (on a loaded machine a second OpenMP thread spin-waits).
"""

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from isac_ae.autoencoder import AutoencoderSystem
from isac_ae.autoencoder.modelfile import LoadedModel, load_model
from isac_ae.baselines import ArraySteering
from isac_ae.channels import Channels
from isac_ae.evaluation import evaluate
from isac_ae.hw.calibrated import CalibratedSystem
from isac_ae.hw.capture import CaptureError, CapturePlan, capture_session, draw_scenes, open_bench, twin_amplitudes
from isac_ae.hw.commands import MANIFOLD_ANGLES_DEG, MEASUREMENT_SAMPLES, _run_calibration, _run_manifold
from isac_ae.hw.device import CommReceiver, Transceiver
from isac_ae.hw.emulator import Emulator
from isac_ae.hw.finetune import surrogate
from isac_ae.hw.finetune.model_free import finetune_model_free
from isac_ae.hw.finetune.receivers import finetune_receivers
from isac_ae.hw.frames import FrameLayout
from isac_ae.hw.profiles import profile
from isac_ae.hw.scene import EmulatorSceneController
from isac_ae.hw.twin import DigitalTwin
from isac_ae.plots import plot_fronts
from isac_ae.pretrained import SWEEPS, sweep_dir
from isac_ae.tradeoff import baseline_points, default_phis, front_at_ser

DEVICE, OMEGA = "quadmxfe", 0.09
RHO, PHI_DEG = 0.5, 0.0  # the baseline's point: SER close to the AE's on the nominal array (see the docstring)
#: Captures for the receivers: many short scenes (the receivers learn from target angles), drawn with the
#: seed tests/hw/test_finetune_receivers.py uses.
CAPTURE_SEED, CAPTURE_DATA = 2, 256
EVAL_SEED = 1
BASELINES = (
    "baseline, nominal design",
    "baseline, calibrated",
    "baseline, dictionary",
    "baseline, oracle (true array)",
)
#: The (rho, phi) grid each baseline design is swept over: around the AE's SER for the table, and the
#: whole trade-off for the plot (phases: default_phis(8)).
TABLE_RHOS = (0.3, 0.45, 0.6, 0.75)
PLOT_RHOS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)
AE_SYSTEMS = (
    "AE, nominal",
    "AE, calibrated",
    "AE, surrogate fine-tuned",
    "AE, receivers fine-tuned",
    "AE, model-free fine-tuned",
)
SYSTEMS = BASELINES + AE_SYSTEMS
METRICS = ("pd", "pfa", "rmse_deg", "ser")
INTERVALS = {"pd": ("pd_ci_low", "pd_ci_high"), "rmse_deg": ("rmse_ci_low", "rmse_ci_high")}


def nominal_model(omega: float = OMEGA) -> LoadedModel:
    """A fresh copy of the shipped nominal model (every method starts from its own)."""
    return load_model(sweep_dir("nominal") / f"omega_{omega}.safetensors")


def measure(twin: DigitalTwin) -> tuple:
    """(calibration, manifold, seconds) measured through pyadi-iio and an emulator serving ``twin``."""
    started = time.perf_counter()
    prof, pluto = profile(DEVICE), profile("pluto2")
    with Emulator(DEVICE, source=twin.source(), comm_receiver=True) as emulator:
        uris = emulator.uris
        board = Transceiver(DEVICE, uris[0])
        comm = CommReceiver(uris[1], pluto.default_lo_hz, pluto.default_sample_rate_hz)
        try:
            scenes = EmulatorSceneController(uris)
            calibration = _run_calibration(prof, board, comm, scenes, MEASUREMENT_SAMPLES)
            manifold = _run_manifold(prof, board, scenes, MANIFOLD_ANGLES_DEG, MEASUREMENT_SAMPLES)
        finally:
            board.close()
            comm.close()
    return calibration, manifold, time.perf_counter() - started


def capture(twin: DigitalTwin, nominal: LoadedModel, count: int, out: Path) -> tuple[int, float]:
    """Record ``count`` scenes sent with the nominal transmitter into ``out``; (recordings, seconds).

    A comm frame lost in a deep fade is recorded with its radar part; a bench error that outlasts the
    retries stops the session, and the recordings made until then are kept and used (their number is
    reported)."""
    started = time.perf_counter()
    sc, layout = nominal.scenario, FrameLayout(data=CAPTURE_DATA)
    system = AutoencoderSystem(nominal.model, sc)
    scenes = draw_scenes(sc, count, CAPTURE_SEED, *twin_amplitudes(sc, layout, twin.truth.noise_power))
    plan = CapturePlan(DEVICE, sc, scenes, system.beam.numpy(), system.constellation.numpy(), CAPTURE_SEED, layout)
    with Emulator(DEVICE, source=twin.source(), comm_receiver=True) as emulator:
        try:
            capture_session(out, plan, lambda: open_bench(DEVICE, emulator.uris[0]), retries=0)
        except CaptureError as exc:  # the partial session is still data; the count says how much
            print(f"  capture stopped: {exc}", file=sys.stderr)
    return len(list(out.glob("*.sigmf-meta"))), time.perf_counter() - started


def result(system, channels: Channels, samples: int) -> dict:
    r = evaluate(system, samples, EVAL_SEED, channels=channels)
    return r.to_dict()


def baseline_designs(sc, twin: DigitalTwin, calibration, manifold) -> dict:
    """The steering each baseline of :data:`BASELINES` is designed for (None: the nominal array)."""
    return {
        "baseline, nominal design": None,
        "baseline, calibrated": ArraySteering(calibration.array_model(sc.nominal_positions())),
        "baseline, dictionary": manifold.dictionary(sc.nominal_positions(), calibration),
        "baseline, oracle (true array)": ArraySteering(twin.truth.array),
    }


def sweep_designs(sc, designs: dict, points, channels: Channels, samples: int, log) -> dict:
    """Each design's sweep rows over ``points`` (rho, phi radians) on ``channels``."""
    fronts = {}
    for name, steering in designs.items():
        started = time.perf_counter()
        fronts[name] = baseline_points(sc, points, samples, EVAL_SEED, steering=steering, channels=channels)
        log(f"  {name}: {len(points)} points in {time.perf_counter() - started:.1f} s")
    return fronts


def matched(ae: dict, rows) -> dict:
    """A baseline front's Pd and RMSE at the SER of an AE evaluation (with the ranges over its SER interval)."""
    return {
        metric: front_at_ser(rows, ae["ser"], ae["ser_ci_low"], ae["ser_ci_high"], metric)
        for metric in ("pd", "rmse_deg")
    }


def run_seed(seed: int, budget: str, samples: int, captures: int, log) -> dict:
    """Every system's evaluation and every method's budget for twin ``seed``."""
    twin = DigitalTwin(DEVICE, seed)
    nominal = nominal_model()
    sc = nominal.scenario
    channels = Channels(twin.radar_channel(sc), twin.comm_channel(sc))
    calibration, manifold, measure_s = measure(twin)
    log(f"seed {seed}: measured calibration + manifold in {measure_s:.1f} s")
    manifold_snapshots = int(np.size(manifold.angles_deg)) * MEASUREMENT_SAMPLES

    points = [(RHO, math.radians(PHI_DEG))] + [(r, p) for r in TABLE_RHOS for p in default_phis(8)]
    fronts = sweep_designs(sc, baseline_designs(sc, twin, calibration, manifold), points, channels, samples, log)
    measured = {"seconds": measure_s}
    systems = {
        "AE, nominal": (AutoencoderSystem(nominal.model, sc), {}),
        "AE, calibrated": (CalibratedSystem(AutoencoderSystem(nominal.model, sc), calibration), measured),
    }

    started = time.perf_counter()
    model, meta = surrogate.finetune(
        nominal_model().model, sc, OMEGA, manifold, DEVICE, calibration=calibration, budget=budget, seed=seed
    )
    seconds = time.perf_counter() - started
    systems["AE, surrogate fine-tuned"] = (
        AutoencoderSystem(model, sc),
        {
            "captured_snapshots": manifold_snapshots,
            "transmitted_snapshots": 0,  # trains through the fitted channel, in simulation
            "simulated_training_samples": meta["budget"]["training_samples"],
            "seconds": seconds + measure_s,
            "fit": meta["fit"],
        },
    )
    log(f"seed {seed}: surrogate in {seconds:.1f} s")

    with tempfile.TemporaryDirectory(prefix="finetune_study_") as tmp:
        recordings, capture_s = capture(twin, nominal, captures, Path(tmp))
        started = time.perf_counter()
        model, meta = finetune_receivers(nominal_model(), Path(tmp), DEVICE, budget=budget, seed=seed + 1)
        seconds = time.perf_counter() - started
    systems["AE, receivers fine-tuned"] = (
        AutoencoderSystem(model, sc),
        {
            "captured_snapshots": recordings * CAPTURE_DATA,
            "transmitted_snapshots": recordings * CAPTURE_DATA,
            "recordings": recordings,
            "seconds": seconds + capture_s,
            "capture_seconds": capture_s,
            "steps": meta["steps"],
        },
    )
    log(f"seed {seed}: {recordings} captures in {capture_s:.1f} s, receivers in {seconds:.1f} s")

    started = time.perf_counter()
    model, meta = finetune_model_free(nominal_model(), channels, budget=budget, seed=seed, device=DEVICE)
    seconds = time.perf_counter() - started
    systems["AE, model-free fine-tuned"] = (
        AutoencoderSystem(model, sc),
        {
            "captured_snapshots": meta["snapshots"],
            "transmitted_snapshots": meta["snapshots"],
            "channel_calls": meta["channel_calls"],
            "seconds": seconds,
        },
    )
    log(f"seed {seed}: model-free in {seconds:.1f} s")

    out = {}
    for name in BASELINES:
        budget = {} if name.endswith(("nominal design", "(true array)")) else measured
        out[name] = {"evaluation": fronts[name][0], "budget": budget, "sweep": fronts[name]}
    for name in AE_SYSTEMS:
        system, cost = systems[name]
        started = time.perf_counter()
        evaluation = result(system, channels, samples)
        out[name] = {
            "evaluation": evaluation,
            "budget": cost,
            "matched": {b: matched(evaluation, fronts[b]) for b in BASELINES},
        }
        log(f"seed {seed}: {name}: evaluated in {time.perf_counter() - started:.1f} s")
    return out


def aggregate(per_seed: dict) -> dict:
    """Per system and metric: median, min and max over the seeds (of the estimates and of the CI bounds)."""
    out = {}
    for name in SYSTEMS:
        rows = [per_seed[s][name] for s in per_seed]
        entry = {}
        for metric in METRICS:
            entry[metric] = _spread([r["evaluation"][metric] for r in rows])
        for metric, (low, high) in INTERVALS.items():
            entry[metric + "_ci"] = [
                float(np.median([r["evaluation"][low] for r in rows])),
                float(np.median([r["evaluation"][high] for r in rows])),
            ]
        for key in ("captured_snapshots", "transmitted_snapshots", "seconds"):
            values = [r["budget"][key] for r in rows if key in r["budget"]]
            entry[key] = _spread(values) if values else None
        if name in AE_SYSTEMS:
            entry["matched"] = {
                b: {
                    "pd_difference": _spread([r["evaluation"]["pd"] - r["matched"][b]["pd"]["value"] for r in rows]),
                    "rmse_ratio": _spread(
                        [r["evaluation"]["rmse_deg"] / r["matched"][b]["rmse_deg"]["value"] for r in rows]
                    ),
                    "reachable": sum(not math.isnan(r["matched"][b]["pd"]["value"]) for r in rows),
                }
                for b in BASELINES
            }
        out[name] = entry
    return out


def _spread(values) -> tuple[float, float, float]:
    """Median, min and max over the values that are not NaN (a front that does not reach a SER gives NaN)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return (float(np.median(v)), float(v.min()), float(v.max())) if v.size else (math.nan,) * 3


def _cell(spread, digits: int, sign: str = "") -> str:
    median, low, high = spread
    if math.isnan(median):
        return "n/a"
    return f"{median:{sign}.{digits}f} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def markdown(summary: dict, seeds: list[int], budget: str, samples: int) -> str:
    lines = [
        f"Quad-MxFE twins (K = 16), seeds {', '.join(map(str, seeds))}; shipped nominal omega_r = {OMEGA} model; "
        f"'{budget}' budgets; {samples:g} test and {samples:g} H0 snapshots per system and seed on the twin's true "
        f"channels, Pfa = 0.01. Each cell: median [min, max] over the seeds; '95 % CI' is the median over the seeds "
        f"of each seed's interval. Baseline rows: the ISAC beam at rho = {RHO}, phi = {PHI_DEG:g} deg of each "
        "design (the point whose SER is close to the AE's on the nominal array); the second table compares along "
        "the fronts. Budget: snapshots captured from / transmitted through the board, and seconds (measurement, "
        "capture and training) per seed on this machine.",
        "",
        "| system | Pd | Pd 95 % CI | Pfa | RMSE (deg) | RMSE 95 % CI | SER "
        "| captured / transmitted snapshots | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SYSTEMS:
        e = summary[name]
        snap = (
            "-"
            if e["captured_snapshots"] is None
            else f"{e['captured_snapshots'][0]:.0f} / {e['transmitted_snapshots'][0]:.0f}"
        )
        seconds = "-" if e["seconds"] is None else _cell(e["seconds"], 0)
        lines.append(
            f"| {name} | {_cell(e['pd'], 3)} | [{e['pd_ci'][0]:.3f}, {e['pd_ci'][1]:.3f}] | {e['pfa'][0]:.4f} | "
            f"{_cell(e['rmse_deg'], 2)} | [{e['rmse_deg_ci'][0]:.2f}, {e['rmse_deg_ci'][1]:.2f}] | "
            f"{_cell(e['ser'], 4)} | {snap} | {seconds} |"
        )
    lines += [
        "",
        "At matched SER: each AE's Pd minus each baseline design's Pd on its Pareto front at the AE's own SER "
        f"(swept over rho in {TABLE_RHOS} x 8 phases on the same twin and test draws, interpolated in log SER), "
        "median [min, max] over the seeds; in brackets after it, the AE's RMSE over the front's at that SER "
        "(median). Positive Pd and a ratio below 1: the AE is better. n/a: the front does not reach that SER.",
        "",
        "| system | " + " | ".join(b.removeprefix("baseline, ") for b in BASELINES) + " |",
        "|---|" + "---|" * len(BASELINES),
    ]
    for name in AE_SYSTEMS:
        cells = []
        for b in BASELINES:
            m = summary[name]["matched"][b]
            ratio = "" if math.isnan(m["rmse_ratio"][0]) else f" ({m['rmse_ratio'][0]:.2f})"
            reach = "" if m["reachable"] == len(seeds) else f", {m['reachable']}/{len(seeds)} seeds"
            cells.append(_cell(m["pd_difference"], 3, "+") + ratio + reach)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tradeoff(seed: int, budget: str, samples: int, out: Path, log) -> dict:
    """The Fig. 2-style trade-off on twin ``seed``: the four baseline fronts, and the calibrated and the
    surrogate-fine-tuned AE at every omega_r of the nominal sweep. Writes the plots and returns the record."""
    twin = DigitalTwin(DEVICE, seed)
    sweep = SWEEPS["nominal"]
    sc = sweep.scenario
    channels = Channels(twin.radar_channel(sc), twin.comm_channel(sc))
    calibration, manifold, measure_s = measure(twin)
    log(f"seed {seed}: measured calibration + manifold in {measure_s:.1f} s")
    points = [(r, p) for r in PLOT_RHOS for p in (default_phis(8) if 0.0 < r < 1.0 else [0.0])]
    fronts = sweep_designs(sc, baseline_designs(sc, twin, calibration, manifold), points, channels, samples, log)
    calibrated, fine_tuned = [], []
    for omega in sweep.omegas:
        started = time.perf_counter()
        nominal = nominal_model(omega)
        system = CalibratedSystem(AutoencoderSystem(nominal.model, sc), calibration)
        calibrated.append({"omega": omega, **result(system, channels, samples)})
        model, meta = surrogate.finetune(
            nominal.model, sc, omega, manifold, DEVICE, calibration=calibration, budget=budget, seed=seed
        )
        fine_tuned.append({"omega": omega, **result(AutoencoderSystem(model, sc), channels, samples)})
        log(f"seed {seed}: omega_r {omega}: calibrated + surrogate in {time.perf_counter() - started:.1f} s")
    plot_fronts(
        [(name.removeprefix("baseline, "), rows) for name, rows in fronts.items()],
        out,
        f"Quad-MxFE twin seed {seed}, Pfa = 0.01",
        [("AE, calibrated", calibrated), ("AE, surrogate fine-tuned", fine_tuned)],
        prefix=f"finetune_tradeoff_seed{seed}",
    )
    return {"fronts": fronts, "AE, calibrated": calibrated, "AE, surrogate fine-tuned": fine_tuned}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="twin seeds")
    parser.add_argument("--budget", choices=("quick", "full"), default="quick")
    parser.add_argument("--samples", type=float, default=1e5, help="test (and H0) snapshots per evaluation")
    parser.add_argument("--captures", type=int, default=48, help="recordings of 256 snapshots for 'receivers'")
    parser.add_argument("--out", required=True, type=Path, help="directory for results.md and results.json")
    parser.add_argument(
        "--tradeoff-seed", type=int, help="draw the trade-off plot on this twin instead of the table (--seeds unused)"
    )
    args = parser.parse_args(argv)
    samples = int(args.samples)
    if samples < 1 or args.captures < 8 or any(s < 0 for s in args.seeds):
        parser.error("--samples must be positive, --captures at least 8, seeds non-negative")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    if args.tradeoff_seed is not None:
        record = tradeoff(args.tradeoff_seed, args.budget, samples, args.out, log)
        record.update(command=" ".join(sys.argv), budget=args.budget, seconds=time.perf_counter() - started)
        (args.out / f"tradeoff_seed{args.tradeoff_seed}.json").write_text(json.dumps(record, indent=1))
        return 0
    per_seed = {}
    for seed in args.seeds:
        per_seed[seed] = run_seed(seed, args.budget, samples, args.captures, log)
    summary = aggregate(per_seed)
    table = markdown(summary, args.seeds, args.budget, samples)
    record = {
        "command": " ".join(sys.argv),
        "device": DEVICE,
        "omega": OMEGA,
        "budget": args.budget,
        "samples": samples,
        "seeds": args.seeds,
        "baseline": {"rho": RHO, "phi_deg": PHI_DEG},
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "per_seed": {str(s): v for s, v in per_seed.items()},
    }
    (args.out / "results.md").write_text(table)
    (args.out / "results.json").write_text(json.dumps(record, indent=1))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
