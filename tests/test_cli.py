import json
import shlex
import subprocess
import sys

import pytest
import torch

from isac_ae.autoencoder.modelfile import read_metadata
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
        ["baseline", "--M", "3"],
        ["baseline", "--seed", "-1"],
        ["baseline", "--target-sector-deg", "30", "10"],
        ["baseline", "--bogus"],
        ["baseline-sweep"],
        ["nonsense"],
        ["train", "--omega", "1.5", "--out", "x"],
        ["train", "--omega", "0.1,0.1", "--out", "x"],
        ["train", "--omega", "", "--out", "x"],
        ["evaluate", "/nonexistent/model.safetensors"],
        ["evaluate", __file__],
        ["reproduce", "fig9", "--out", "x"],
        ["models", "--dir", "/nonexistent"],
    ],
)
def test_bad_input_is_one_line_exit_2(args):
    proc = _run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("isac-ae: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "command", [[], ["baseline"], ["baseline-sweep"], ["train"], ["evaluate"], ["models"], ["reproduce"]]
)
def test_help(command):
    proc = _run(*command, "--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_sweep_writes_csv_front_and_plots(tmp_path):
    assert (
        main(["baseline-sweep", "--out", str(tmp_path), "--samples", "5000", "--rhos", "0,0.5,1", "--phi-steps", "2"])
        == 0
    )
    rows = read_csv(tmp_path / "baseline_sweep.csv")
    assert len(rows) == 4  # rho = 0 and 1 once, rho = 0.5 at two phases
    assert any(r["front_pd"] for r in rows) and any(r["front_rmse"] for r in rows)
    for name in ("baseline_ser_vs_pd.png", "baseline_ser_vs_pd.pdf", "baseline_ser_vs_rmse.png", "baseline_front.json"):
        assert (tmp_path / name).stat().st_size > 0


TRAIN = ["train", "--omega", "0.09,1", "--samples-per-stage", "2000", "--batch-size", "500", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny models trained through the command line (4 steps per stage)."""
    out = tmp_path_factory.mktemp("sweep") / "nominal"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def test_train_writes_one_model_per_omega_and_no_checkpoint(trained):
    assert sorted(p.name for p in trained.iterdir()) == ["omega_0.09.safetensors", "omega_1.0.safetensors"]


def test_train_records_its_command_line(trained):
    for name in ("omega_0.09.safetensors", "omega_1.0.safetensors"):
        meta = read_metadata(trained / name)
        assert meta["command"] == shlex.join(["isac-ae", *TRAIN, "--out", str(trained)])
        assert meta["git_commit"] == "unknown" or len(meta["git_commit"].removesuffix("-dirty")) == 40


def test_evaluate_json(trained, capsys):
    assert (
        main(["evaluate", str(trained / "omega_0.09.safetensors"), "--samples", "5000", "--seed", "1", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in ("pd", "pfa", "rmse_deg", "sigma_deg", "ser", "omega"):
        assert key in out
    assert out["omega"] == 0.09 and out["samples"] == 5000


def test_evaluate_refuses_another_scenario(trained):
    proc = _run("evaluate", str(trained / "omega_0.09.safetensors"), "--samples", "100", "--spacing-std", "0.0333")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "another scenario" in proc.stderr


def test_models_lists_path_omega_and_positions(trained, capsys):
    assert main(["models", "--dir", str(trained.parent), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["omega"] for e in entries] == [0.09, 1.0]
    for e in entries:
        assert e["spacing_std"] == 0.0 and e["true_positions_wavelengths"] == [0.5 * k for k in range(16)]
        assert e["path"].endswith(".safetensors")
        assert e["command"] == shlex.join(["isac-ae", *TRAIN, "--out", str(trained)]) and e["git_commit"]


def test_interrupted_training_resumes(tmp_path):
    from isac_ae import Scenario
    from isac_ae.autoencoder import Trainer, TrainingConfig
    from isac_ae.autoencoder.modelfile import load_model
    from isac_ae.autoencoder.sweep import CHECKPOINT_NAME

    args = ["train", "--omega", "0.5", "--samples-per-stage", "2000", "--batch-size", "500", "--quiet", "--seed", "3"]
    config = TrainingConfig(omegas=(0.5,), samples_per_stage=2000, batch_size=500, seed=3, budget="custom")
    # An interrupted run: 6 of 16 steps done, checkpoint on disk.
    Trainer(Scenario(), config, checkpoint=tmp_path / "a" / CHECKPOINT_NAME, checkpoint_every=2).run(max_steps=6)
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = load_model(tmp_path / "a" / "omega_0.5.safetensors").model.state_dict()
    b = load_model(tmp_path / "b" / "omega_0.5.safetensors").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
