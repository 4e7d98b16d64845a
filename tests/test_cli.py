import json
import subprocess
import sys

import pytest

from isac_ae.cli import main
from isac_ae.tradeoff import read_csv


def _run(*args):
    return subprocess.run([sys.executable, "-m", "isac_ae.cli", *args], capture_output=True, text=True)


def test_baseline_json(capsys):
    assert main(["baseline", "--rho", "0.5", "--samples", "20000", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("pd", "pfa", "rmse_deg", "ser", "threshold", "samples"):
        assert key in out
    assert out["samples"] == 20000 and 0.5 < out["pd"] < 1 and out["ser"] < 0.05


@pytest.mark.parametrize(
    "args",
    [
        ["baseline", "--samples", "0"],
        ["baseline", "--samples", "-5"],
        ["baseline", "--rho", "1.5"],
        ["baseline", "--rho", "abc"],
        ["baseline", "--pfa", "1"],
        ["baseline", "--K", "0"],
        ["baseline", "--target-sector-deg", "30", "10"],
        ["baseline", "--bogus"],
        ["baseline-sweep"],
        ["nonsense"],
    ],
)
def test_bad_input_is_one_line_exit_2(args):
    proc = _run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("isac-ae: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [[], ["baseline"], ["baseline-sweep"]])
def test_help(command):
    proc = _run(*command, "--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_sweep_writes_csv_front_and_plots(tmp_path):
    assert main(["baseline-sweep", "--out", str(tmp_path), "--samples", "5000", "--rhos", "0,0.5,1", "--phi-steps", "2"]) == 0
    rows = read_csv(tmp_path / "baseline_sweep.csv")
    assert len(rows) == 4  # rho = 0 and 1 once, rho = 0.5 at two phases
    assert any(r["front_pd"] for r in rows) and any(r["front_rmse"] for r in rows)
    for name in ("baseline_ser_vs_pd.png", "baseline_ser_vs_pd.pdf", "baseline_ser_vs_rmse.png", "baseline_front.json"):
        assert (tmp_path / name).stat().st_size > 0
