"""Throughput of the baseline receivers, as ratios against a reference measured in the same run.

* MAPRT: coarse-to-fine search vs the exhaustive fine grid on the same snapshots
  (and the fraction of snapshots where both give the same statistic);
* the full baseline evaluation (transmitter, both channels, both receivers, metrics);
* the C++ ML comm detector vs the torch one.

Usage: python benchmarks/bench_baseline.py [--snapshots N] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from isac_ae import Scenario
from isac_ae.baselines import BaselineSystem, MaprtDetector, ml_detect, qam_constellation
from isac_ae.evaluation import evaluate


def best_time(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sc = Scenario()
    gen = torch.Generator().manual_seed(0)
    n = args.snapshots
    z = torch.randn(n, sc.num_antennas, dtype=torch.complex64, generator=gen)
    detector = MaprtDetector(sc.nominal_positions(), sc.target_sector_rad)
    n_fine = min(n, 100_000)  # the exhaustive search is slow; its rate is per snapshot anyway
    t_fast = best_time(lambda: detector(z))
    t_fine = best_time(lambda: detector.fine(z[:n_fine]), repeats=1)
    fast, ref = detector(z[:n_fine]), detector.fine(z[:n_fine])
    same = float(torch.isclose(fast.statistic, ref.statistic, rtol=1e-5).float().mean())

    system = BaselineSystem(sc, 0.5, 0.0)
    n_eval = min(n, 1_000_000)
    t_eval = best_time(lambda: evaluate(system, n_eval, seed=1), repeats=1)

    results = {
        "snapshots": n,
        "threads": args.threads,
        "K": sc.num_antennas,
        "fine_grid_points": detector.num_fine,
        "maprt_fine_snap_per_s": n_fine / t_fine,
        "maprt_coarse_to_fine_snap_per_s": n / t_fast,
        "maprt_speedup": (n / t_fast) / (n_fine / t_fine),
        "maprt_same_statistic_fraction": same,
        # evaluate() runs an H0 calibration set of the same size as the test set.
        "baseline_evaluation_snap_per_s": 2 * n_eval / t_eval,
    }
    try:
        from isac_ae import kernels

        cpp = kernels.load()
        x = qam_constellation(sc.num_messages).astype(np.complex64)
        zc = z[:, 0].numpy().copy()
        kappa = z[:, 1].numpy().copy()
        t_cpp = best_time(lambda: cpp.ml_detect(zc, kappa, x))
        tx, tzc, tk = torch.from_numpy(x), torch.from_numpy(zc), torch.from_numpy(kappa)
        t_torch = best_time(lambda: ml_detect(tzc, tk, tx))
        results["ml_detect_cpp_sym_per_s"] = n / t_cpp
        results["ml_detect_torch_sym_per_s"] = n / t_torch
        results["ml_detect_cpp_speedup"] = t_torch / t_cpp
    except ImportError as exc:
        results["ml_detect_cpp"] = f"skipped: {exc}"

    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for key, value in results.items():
            print(f"{key:36s} {value:,.3f}" if isinstance(value, float) else f"{key:36s} {value}")


if __name__ == "__main__":
    main()
