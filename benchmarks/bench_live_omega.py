"""The AE blocks with omega_r live: throughput while a slider moves omega_r, and the radar threshold table.

Throughput (vectors/s, K = 16, best of --repeats runs, as bench_flowgraphs.py
measures the AE blocks; building the flowgraph, loading the model and
calibrating are not timed), each row in the same run as its reference:

  ae_transmitter / ae_radar_receiver / ae_comm_receiver
    today      the block on the shipped omega_r = 0.09 model (not conditioned), the reference
    fixed      the block on the conditioned model (--model) at its default omega_r
    sliding    the same while a thread calls set_omega every --period seconds (omega_r swept 0 -> 1 -> 0 in
               steps of 0.01, a slider dragged back and forth); the radar receiver in "pfa" mode, so every
               move interpolates its threshold table
    detections the radar receiver as "fixed" with estimate="detections" (angle and uncertainty estimators on
               the detected snapshots only)

The radar receivers get snapshots of the paper's scenario (half with a target, SNR_r 0 dB) through the
conditioned model's beam at its default point, so the share of detections is a realistic one (printed).

The threshold table (ae_receivers.ThresholdTable, OMEGA_GRID's 33 omega_r):
the time to calibrate it on --h0 H0 snapshots, and its interpolation error
half-way between grid points (in the log feature the grid is uniform in, where
linear interpolation errs most): the Pfa that the interpolated threshold gives
on the same H0 snapshots through the detector at that omega_r, against the
target (0.01), next to the calibration's own binomial standard error.

Usage: python benchmarks/bench_live_omega.py [--model FILE] [--items N] [--repeats R] [--h0 N] [--json]
Run it with `nice -n 19` and OMP_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import threading
import time

import numpy as np
import torch
from gnuradio import gr

from bench_flowgraphs import ae_comm, ae_radar, ae_tx
from gr_harness import crandn, timed
from isac_ae.autoencoder import AutoencoderSystem
from isac_ae.autoencoder.modelfile import load_model
from isac_ae.blocks import ae_receivers
from isac_ae.blocks.ae_common import DEFAULT_MODEL, ModelFileError, resolve_model_path
from isac_ae.channels import RadarChannel

#: The shipped conditioned model (isac-ae train --omega 0,1 --conditioned 11 --hidden-scale 2).
CONDITIONED_MODEL = "conditioned/conditioned.safetensors"
PFA = 0.01
CALIBRATION_H0 = 50_000  # H0 snapshots of the radar receivers' calibration in the timed flowgraphs


class Sliding:
    """A flowgraph whose Python blocks get set_omega every ``period`` seconds while it runs."""

    def __init__(self, tb, period: float):
        self.tb, self.period, self.moves = tb, period, 0

    def _drag(self, stop: threading.Event) -> None:
        sweep = np.round(np.linspace(0.0, 1.0, 101), 2).tolist()
        for omega in itertools.cycle(sweep + sweep[-2:0:-1]):
            if stop.wait(self.period):
                return
            for block in self.tb.python_blocks:
                block.set_omega(omega)
            self.moves += 1

    def run(self) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=self._drag, args=(stop,), daemon=True)
        thread.start()
        try:
            self.tb.run()
        finally:
            stop.set()
            thread.join()


def radar_snapshots(model: str, n: int) -> np.ndarray:
    """``n`` snapshots z_r (n, K) of the model's scenario through its beam at its default point, half with a
    target."""
    loaded = load_model(model)
    system = AutoencoderSystem(loaded.model, loaded.scenario, omega=loaded.omega)
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        y, _ = system.transmit(torch.randint(loaded.scenario.num_messages, (n,), generator=gen))
        return RadarChannel(loaded.scenario)(y, gen).z.numpy().astype(np.complex64)


def throughput(model: str, n: int, repeats: int, period: float) -> list[dict]:
    rng = np.random.default_rng(0)
    z_r, z_c, kappa = radar_snapshots(model, 8192), crandn(rng, 8192), crandn(rng, 8192)
    today = str(resolve_model_path(DEFAULT_MODEL))
    radar = dict(pfa=PFA, h0_samples=CALIBRATION_H0)
    builders = {
        "ae_transmitter": lambda k, m: ae_tx(k, m),
        "ae_radar_receiver": lambda k, m, **kw: ae_radar(k, z_r, None, model=m, **radar, **kw),
        "ae_comm_receiver": lambda k, m: ae_comm(k, z_c, kappa, model=m),
    }
    rows = []
    for name, build in builders.items():
        row = {"block": name, "items": n}
        sliding = []  # the flowgraphs of the sliding runs, to count their slider moves

        def slide(k, build=build, sliding=sliding):
            sliding.append(Sliding(build(k, model), period))
            return sliding[-1]

        variants = [
            ("today", lambda k, build=build: build(k, today)),
            ("fixed", lambda k, build=build: build(k, model)),
            ("sliding", slide),
        ]
        if name == "ae_radar_receiver":
            variants.append(("detections", lambda k, build=build: build(k, model, estimate="detections")))
        for variant, make in variants:
            wall, cpu = timed(lambda make=make: make(n), repeats)
            row[variant] = {"vectors_per_s": n / wall, "vectors_per_cpu_s": n / cpu}
        row["sliding"]["moves_per_run"] = [s.moves for s in sliding]
        for variant, _ in variants[1:]:
            row[variant]["ratio_to_today"] = row[variant]["vectors_per_s"] / row["today"]["vectors_per_s"]
        if name == "ae_radar_receiver":
            row["detections"]["detected_share"] = detected_share(model, z_r)
        rows.append(row)
    return rows


def detected_share(model: str, z_r: np.ndarray) -> float:
    """The share of ``z_r`` the radar receiver detects at PFA (its default point), with the bench's calibration."""
    rx = ae_receivers.ae_radar_receiver(model, pfa=PFA, h0_samples=CALIBRATION_H0)
    with torch.inference_mode():
        return float((rx.system().radar_detect(torch.from_numpy(z_r)) > rx.threshold()).float().mean())


def threshold_table(model: str, h0: int) -> dict:
    """Calibration time of the table, and its interpolation error half-way between grid points."""
    loaded = load_model(model)
    system = AutoencoderSystem(loaded.model, loaded.scenario, omega=loaded.omega)
    start = time.perf_counter()
    table = ae_receivers.ThresholdTable(system, h0, 0)
    seconds = time.perf_counter() - start
    grid_thresholds = table.thresholds(PFA)
    halfway = ae_receivers.omega_grid(2 * len(table.omegas) - 1)[1::2]
    exact = ae_receivers.ThresholdTable(system, h0, 0, omegas=halfway)  # the same snapshots at each
    interpolated = np.array([table.threshold(grid_thresholds, float(w)) for w in halfway])
    pfa = (exact.scores > interpolated).mean(axis=0)
    errors = np.abs(pfa - PFA) / PFA
    worst = int(np.argmax(errors))
    return {
        "model": str(loaded.path),
        "grid_points": len(table.omegas),
        "h0_samples": h0,
        "calibration_s": seconds,
        "max_threshold_error": float(np.max(np.abs(interpolated - exact.thresholds(PFA)))),
        "max_relative_pfa_error": float(errors[worst]),
        "at_omega": float(halfway[worst]),
        "median_relative_pfa_error": float(np.median(errors)),
        "calibration_relative_std": math.sqrt((1 - PFA) / (PFA * h0)),
        "threshold_range": [float(grid_thresholds.min()), float(grid_thresholds.max())],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=CONDITIONED_MODEL, help="a conditioned model file (default %(default)s)")
    parser.add_argument("--items", type=int, default=1_000_000, help="vectors per block run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--period", type=float, default=0.01, help="seconds between two slider moves")
    parser.add_argument("--h0", type=int, default=200_000, help="H0 snapshots of the threshold table measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        model = str(resolve_model_path(args.model))
    except ModelFileError as exc:
        raise SystemExit(f"{exc}; pass --model with a conditioned model (isac-ae train --conditioned)") from None
    if not load_model(model).conditioned:
        raise SystemExit(f"{model} is not a conditioned model (isac-ae train --conditioned)")
    torch.set_num_threads(1)
    gr.logging().set_default_level(gr.log_levels.warn)  # the blocks' info lines would mix into --json
    result = {
        "model": model,
        "repeats": args.repeats,
        "period_s": args.period,
        "throughput": throughput(model, args.items, args.repeats, args.period),
        "threshold_table": threshold_table(model, args.h0),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"vectors/s of wall time (best of {args.repeats}), K = 16, one torch thread; model {model}")
    for row in result["throughput"]:
        today = row["today"]["vectors_per_s"]
        print(f"{row['block']:20s} today {today:10.3e}", end="")
        for variant in ("fixed", "sliding", "detections"):
            if variant in row:
                r = row[variant]
                print(f"   {variant} {r['vectors_per_s']:10.3e} ({r['ratio_to_today']:.2f}x)", end="")
        print(f"   slider moves per run {row['sliding']['moves_per_run']}", end="")
        share = row.get("detections", {}).get("detected_share")
        print("" if share is None else f"   detected share {share:.3f}")
    t = result["threshold_table"]
    print(
        f"threshold table: {t['grid_points']} omega_r x {t['h0_samples']} H0 snapshots in {t['calibration_s']:.1f} s; "
        f"thresholds {t['threshold_range'][0]:.3f} .. {t['threshold_range'][1]:.3f}; half-way between grid points "
        f"|Pfa - {PFA}| / {PFA} at most {t['max_relative_pfa_error']:.4f} (omega_r {t['at_omega']:.4f}), median "
        f"{t['median_relative_pfa_error']:.4f}, threshold error at most {t['max_threshold_error']:.4f}; "
        f"the calibration's own relative standard error {t['calibration_relative_std']:.4f}"
    )


if __name__ == "__main__":
    main()
