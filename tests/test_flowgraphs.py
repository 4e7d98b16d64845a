"""The example flowgraphs: every .grc compiles with grcc; each no_gui twin runs headless and agrees with the core.

The flowgraphs draw their channels with the C++ blocks and the core evaluates
with the torch channels, so the two are independent samples of the same
system: they must agree within 5 sigma of the difference of two estimates
(binomial for Pd, Pfa and SER; the RMSE's standard error from the flowgraph's
own squared errors). The thresholds are the core's: both radar receivers
calibrate on the same H0 stream as `evaluate` (same seed and size). Away from
the paper's scenario (K = 8, another sector) the baseline flowgraph must hold
its false-alarm rate by itself, with no threshold from outside.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import Z

pytest.importorskip("gnuradio", reason="GNU Radio is not installed: the example flowgraphs cannot be compiled or run")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "simulation"
GRC_FILES = sorted(EXAMPLES.glob("*.grc"))
ITEMS = 200_000
SEED = 1
MODEL = "nominal/omega_0.09.safetensors"


def _env(**extra):
    import isac_ae

    env = dict(os.environ)
    env["GRC_BLOCKS_PATH"] = os.pathsep.join(filter(None, [str(REPO / "grc"), env.get("GRC_BLOCKS_PATH")]))
    # The flowgraphs run in other directories: give them the isac_ae this test imported (a relative
    # PYTHONPATH would silently fall back to an installed copy, maybe older than the built C++ part).
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(isac_ae.__file__).resolve().parents[1]), env.get("PYTHONPATH")])
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """grcc every example (with this Python, so GRC sees the venv) into one directory."""
    grcc = shutil.which("grcc")
    if grcc is None:
        pytest.skip("grcc (GNU Radio Companion compiler) not installed")
    out = tmp_path_factory.mktemp("flowgraphs")
    cmd = [sys.executable, grcc, "-o", str(out)]
    together = subprocess.run(
        cmd + [str(g) for g in GRC_FILES], capture_output=True, text=True, env=_env(), timeout=600
    )
    results = {}
    for grc in GRC_FILES:
        if together.returncode == 0:  # one platform load for all; per file only to name a failure
            proc = together
        else:
            proc = subprocess.run(cmd + [str(grc)], capture_output=True, text=True, env=_env(), timeout=300)
        results[grc.stem] = (proc, out / f"{grc.stem}.py")
    return results


def test_the_examples_are_all_there():
    names = {p.stem for p in GRC_FILES}
    for base in ("isac_ae_sim", "isac_baseline_sim", "isac_compare_sim", "isac_ae_twin_sim", "online_finetune_twin"):
        assert {base, base + "_no_gui"} <= names


@pytest.mark.parametrize("grc", GRC_FILES, ids=[p.stem for p in GRC_FILES])
def test_grc_compiles(compiled, grc):
    proc, script = compiled[grc.stem]
    assert proc.returncode == 0 and script.is_file(), proc.stdout + proc.stderr
    assert "Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _run_no_gui(compiled, name, tmp_path, *args) -> tuple[str, dict]:
    proc, script = compiled[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    prefix = tmp_path / name
    run = subprocess.run(
        [sys.executable, str(script), "--items", str(ITEMS), "--seed", str(SEED), "--metrics-json", str(prefix), *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Traceback" not in output, output
    reports = {
        p.name[len(name) + 1 : -len(".json")]: json.loads(p.read_text()) for p in tmp_path.glob(f"{name}_*.json")
    }
    return output, reports


def _binomial_tol(p: float, n1: int, n2: int) -> float:
    return Z * math.sqrt(max(p * (1 - p), 1e-12) * (1 / n1 + 1 / n2))


def _agree(fg: dict, core, what: str) -> None:
    """Flowgraph metrics (JSON of the metrics block) against an EvaluationResult of the core."""
    assert fg["items"] == ITEMS
    core_absent = core.samples - core.targets
    checks = [
        ("pd", fg["pd"], core.pd, _binomial_tol(core.pd, fg["targets"], core.targets)),
        ("pfa", fg["pfa"], core.pfa, _binomial_tol(core.target_pfa, fg["absent"], core_absent)),
        ("ser", fg["ser"], core.ser, _binomial_tol(max(core.ser, 1.0 / ITEMS), fg["items"], core.samples)),
    ]
    se = fg["rmse_stderr_deg"]
    checks.append(("rmse_deg", fg["rmse_deg"], core.rmse_deg, Z * se * math.sqrt(1 + fg["detected"] / core.detected)))
    for name, got, want, tol in checks:
        assert abs(got - want) <= tol, f"{what} {name}: flowgraph {got:.5g}, core {want:.5g}, tolerance {tol:.3g}"


def _logged_threshold(output: str, kind: str = "logit") -> float:
    """The threshold a radar receiver logged when it calibrated: kind "logit" (AE) or "MAPRT"."""
    match = re.search(kind + r" threshold ([-+0-9.eE]+) \(Pfa", output)
    assert match, output
    return float(match.group(1))


@pytest.fixture(scope="module")
def ae_core():
    """The core's evaluation of the shipped model."""
    from isac_ae.autoencoder import AutoencoderSystem
    from isac_ae.autoencoder.modelfile import load_model
    from isac_ae.evaluation import evaluate
    from isac_ae.pretrained import models_dir

    loaded = load_model(models_dir() / MODEL)
    return evaluate(AutoencoderSystem(loaded.model, loaded.scenario), samples=ITEMS, seed=SEED)


@pytest.fixture(scope="module")
def baseline_core():
    from isac_ae import Scenario
    from isac_ae.baselines import BaselineSystem
    from isac_ae.evaluation import evaluate

    return evaluate(BaselineSystem(Scenario(), rho=0.5, phi_rad=0.0), samples=ITEMS, seed=SEED)


def _h0_args():
    """The H0 stream of evaluate(ITEMS, SEED): both radar receivers calibrate the core's thresholds."""
    from isac_ae.evaluation import seed_streams

    return ["--pfa", "0.01", "--h0-samples", str(ITEMS), "--h0-seed", str(seed_streams(SEED, 2)[0])]


def test_ae_no_gui_agrees_with_the_core(compiled, tmp_path, ae_core):
    core = ae_core
    output, reports = _run_no_gui(compiled, "isac_ae_sim_no_gui", tmp_path, "--model", MODEL, *_h0_args())
    assert _logged_threshold(output) == pytest.approx(core.threshold, rel=1e-6)
    assert "AE: Pd" in output  # the live summary logged at stop
    _agree(reports["ae"], core, "AE")


def test_baseline_no_gui_agrees_with_the_core(compiled, tmp_path, baseline_core):
    output, reports = _run_no_gui(
        compiled, "isac_baseline_sim_no_gui", tmp_path, *_h0_args(), "--rho", "0.5", "--phi", "0"
    )
    # The C++ statistic equals the core's within 1e-6 relative: so does the calibrated threshold.
    assert _logged_threshold(output, "MAPRT") == pytest.approx(baseline_core.threshold, rel=1e-5)
    _agree(reports["baseline"], baseline_core, "baseline")


def test_baseline_no_gui_holds_pfa_at_another_k_and_sector(compiled, tmp_path):
    """K = 8 and [-10, 30] deg: the MAPRT calibrates its own threshold (no number from outside) and the
    flowgraph's false alarms are binomial at the target Pfa."""
    pfa, h0 = 0.01, 200_000
    output, reports = _run_no_gui(
        compiled,
        "isac_baseline_sim_no_gui",
        tmp_path,
        "--K",
        "8",
        "--theta-min",
        "-10",
        "--theta-max",
        "30",
        "--pfa",
        str(pfa),
        "--h0-samples",
        str(h0),
        "--h0-seed",
        "5",
    )
    assert "K = 8, sector [-10, 30] deg" in output  # what the MAPRT calibrated for
    fg = reports["baseline"]
    _assert_pfa_held(fg["false_alarms"], fg["absent"], pfa, h0)
    # The paper's K = 16 threshold (about 118) here would give no false alarm at all.
    assert fg["false_alarms"] > 0 and 0.1 < fg["pd"] < 0.99


def _assert_pfa_held(false_alarms: int, absent: int, pfa: float, h0: int) -> None:
    """False alarms of a threshold calibrated on ``h0`` H0 snapshots agree with the target ``pfa``.

    The calibrated threshold is an order statistic of the H0 set, so the Pfa it achieves is itself random:
    Beta(N - r, r + 1) for N H0 snapshots and the evaluation's rank r (0-based). The check passes when the
    Clopper-Pearson interval of the observed false alarms meets the interval of that Beta law, both at the
    tests' Z sigma: under a correct calibration it fails with probability below 2 x 5.7e-7.
    """
    from scipy import stats

    from isac_ae.evaluation import clopper_pearson

    confidence = 1 - 2 * stats.norm.sf(Z)
    low, high = clopper_pearson(false_alarms, absent, confidence)
    rank = math.ceil((1 - pfa) * h0) - 1
    achieved = stats.beta(h0 - rank, rank + 1).ppf([(1 - confidence) / 2, (1 + confidence) / 2])
    assert low <= achieved[1] and achieved[0] <= high, (false_alarms / absent, (low, high), achieved)


def test_compare_no_gui_runs_both_systems_on_the_same_draws(compiled, tmp_path, ae_core, baseline_core):
    core = ae_core
    _, reports = _run_no_gui(compiled, "isac_compare_sim_no_gui", tmp_path, "--model", MODEL, *_h0_args())
    ae, bl = reports["ae"], reports["baseline"]
    assert (ae["targets"], ae["absent"]) == (bl["targets"], bl["absent"])  # the same target draws
    _agree(ae, core, "AE")
    _agree(bl, baseline_core, "baseline")


def _qt_env(tmp_path):
    return _env(QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path))


@pytest.mark.parametrize("name", ["isac_ae_sim", "isac_baseline_sim", "isac_compare_sim"])
def test_gui_flowgraph_starts_offscreen(compiled, tmp_path, name):
    """The Qt variants build and run (offscreen) until stopped; they never exit by themselves."""
    pytest.importorskip("PyQt5")
    proc, script = compiled[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = tmp_path / "gui.log"
    tmp_path.chmod(0o700)  # Qt wants a private runtime directory
    with open(log, "w") as sink:
        run = subprocess.Popen(
            [sys.executable, str(script)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_qt_env(tmp_path),
            cwd=tmp_path,
            start_new_session=True,
        )
        try:
            # Built once a radar receiver has logged its threshold (calibration at build or start):
            # a generous deadline for a loaded machine, then a few seconds of running.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and run.poll() is None and "threshold" not in log.read_text():
                time.sleep(0.5)
            time.sleep(3)
            alive = run.poll() is None
            while_running = log.read_text()
        finally:
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)  # the generated handler stops the flowgraph
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
    output = log.read_text()
    assert alive, output
    # Only while running: at exit, GRC's own Function Probe threads may still poke the
    # deleted Qt labels (a GNU Radio 3.10 race, not a fault of the flowgraph).
    assert "Traceback" not in while_running, while_running
    assert "Pd" in output  # the metrics blocks logged their summary when stopped


def _drive_qt_flowgraph(compiled, name: str, driver_code: str, tmp_path):
    """Run ``driver_code`` (which builds the compiled Qt flowgraph ``name`` offscreen, moves its sliders and prints
    one "RESULT <json>" line) in a child; (the finished process, the decoded result)."""
    pytest.importorskip("PyQt5")
    proc, script = compiled[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    driver = tmp_path / "drive_sliders.py"
    driver.write_text(driver_code)
    tmp_path.chmod(0o700)
    run = subprocess.run(
        [sys.executable, str(driver), str(script)],
        capture_output=True,
        text=True,
        env=_qt_env(tmp_path),
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run, json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[7:])


_SLIDER_DRIVER = """
import importlib.util, json, sys, time
from PyQt5 import Qt

app = Qt.QApplication([])
spec = importlib.util.spec_from_file_location("fg", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tb = module.isac_baseline_sim()
tb.set_rate(2e6)  # the throttle: as fast as this machine allows
tb.start()
time.sleep(0.5)
tb.set_theta_min(-60)  # what dragging the sliders does
tb.set_theta_max(60)
assert tb.maprt_detector.wait_calibrated(timeout=120), "no calibration"
sector, threshold = tb.maprt_detector.sector_deg(), tb.maprt_detector.threshold()

def counted(n):
    start = tb.metrics.counts()["items"]
    while tb.metrics.counts()["items"] < start + n:
        time.sleep(0.05)

counted(100_000)  # items decided before the swap are out of the buffers
tb.metrics.reset()
while tb.metrics.counts()["absent"] < 100_000:
    time.sleep(0.05)
print("RESULT " + json.dumps({"sector": sector, "threshold": threshold, "metrics": tb.metrics.metrics()}), flush=True)
tb.stop()
tb.wait()
"""


def test_gui_sector_sliders_keep_the_false_alarm_rate(compiled, tmp_path):
    """The Qt baseline flowgraph: moving the target-sector sliders to [-60, 60] deg recalibrates the MAPRT in
    the background, and the false alarms after the swap match the target Pfa (the [-20, 20] deg threshold
    would give 0.024 there: a sector of 1.73 in sin(theta) instead of 0.68)."""
    run, result = _drive_qt_flowgraph(compiled, "isac_baseline_sim", _SLIDER_DRIVER, tmp_path)
    assert result["sector"] == [-60.0, 60.0]
    assert "sector [-60, 60] deg" in run.stdout + run.stderr  # the calibration was logged
    met = result["metrics"]
    _assert_pfa_held(met["false_alarms"], met["absent"], 0.01, 200_000)


_AE_SLIDER_DRIVER = """
import importlib.util, json, sys, time
import numpy as np
from PyQt5 import Qt

app = Qt.QApplication([])
spec = importlib.util.spec_from_file_location("fg", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tb = module.isac_ae_sim()
tb.set_rate(2e6)
tb.start()
time.sleep(0.5)
before = tb.ae_transmitter.beam().copy()
tb.set_theta_min(-10)  # what dragging the sliders does
tb.set_theta_max(30)
tb.set_vartheta_min(-50)
tb.set_vartheta_max(-30)
assert tb.ae_radar_receiver.wait_sectors(timeout=120), "no sector swap"
while not tb.ae_radar_receiver.sector_swaps():
    time.sleep(0.05)

def counted(n):
    start = tb.ae_metrics.counts()["items"]
    while tb.ae_metrics.counts()["items"] < start + n:
        time.sleep(0.05)

counted(100_000)  # items decided before the swap are out of the buffers
tb.ae_metrics.reset()
while tb.ae_metrics.counts()["absent"] < 100_000:
    time.sleep(0.05)
print("RESULT " + json.dumps({
    "sectors": [list(s) for s in tb.ae_radar_receiver.sectors_deg()],
    "comm_rx_sectors": [list(s) for s in tb.ae_comm_receiver.sectors_deg()],
    "comm_channel_sector": list(tb.comm_channel.sector()),
    "beam_moved": float(np.abs(tb.ae_transmitter.beam() - before).max()),
    "epoch": list(tb.ae_metrics.epoch()),
    "metrics": tb.ae_metrics.metrics(),
}), flush=True)
tb.stop()
tb.wait()
"""


def test_gui_ae_sector_sliders_move_the_sector_model_and_keep_the_false_alarm_rate(compiled, tmp_path):
    """The Qt AE flowgraph on its default (sector-conditioned) model: moving the target-sector sliders to
    [-10, 30] deg and the comm-sector sliders to [-50, -30] deg moves the beam, the comm channel and both
    receivers, the radar receiver swaps the new sectors in with their own threshold, the metrics' operating point
    follows the sliders, the false alarms after the swap match Pfa, and the comm link holds in its new sector
    (a beam left on [30, 50] deg would lose it: the sector model's SER at these sectors is 0.004)."""
    run, result = _drive_qt_flowgraph(compiled, "isac_ae_sim", _AE_SLIDER_DRIVER, tmp_path)
    assert result["sectors"] == [[-10.0, 30.0], [-50.0, -30.0]] == result["comm_rx_sectors"]
    assert result["comm_channel_sector"] == [-50.0, -30.0]
    assert result["beam_moved"] > 0.01
    # (SNR_r, SNR_c, theta_min, theta_max, vartheta_min, vartheta_max, omega_r)
    assert result["epoch"][2:6] == [-10, 30, -50, -30]
    assert "in use from item" in run.stdout + run.stderr  # the radar receiver logged its swap
    met = result["metrics"]
    _assert_pfa_held(met["false_alarms"], met["absent"], 0.01, 200_000)
    assert met["ser"] < 0.02
