"""Hostile command lines: each gives exit code 2 and exactly one stderr line, and writes or trains nothing.

Run in process through ``isac_ae.cli.main`` so that a traceback would fail
the test (an uncaught exception escapes ``main``).
"""

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from isac_ae import Scenario, cli
from isac_ae.autoencoder import Autoencoder
from isac_ae.autoencoder.modelfile import read_metadata, save_model


def _refused(capsys, argv, match: str) -> str:
    """Run ``argv``; assert exit code 2, nothing on stdout, one stderr line containing ``match``."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("isac-ae: error: "), captured.err
    assert match in lines[0], lines[0]
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize(
    "args, match",
    [
        (["--M", "3"], "square |M|"),
        (["--M", "257"], "[2, 256]"),
        (["--seed", "-1"], "argument --seed"),
        (["--seed", "1.5"], "argument --seed"),
        (["--spacing-std", "0.03", "--impairment-seed", "-1"], "argument --impairment-seed"),
        (["--K", "100000000"], "[1, 4096]"),
        (["--K", "4097"], "[1, 4096]"),
        (["--snr-radar-db", "1e6"], "[-200, 200] dB"),
        (["--snr-comm-db", "nan"], "finite"),
        (["--snr-comm-db=-inf"], "finite"),
        (["--spacing-std", "0.6"], "spacing_std"),
        (["--spacing-std", "-0.1"], "spacing_std"),
        (["--target-sector-deg", "10", "-10"], "must not exceed"),
        (["--target-sector-deg", "-100", "0"], "[-90, 90]"),
        (["--comm-sector-deg", "30", "nan"], "finite"),
        (["--p-target", "0"], "p_target must lie in (0, 1)"),
        (["--p-target", "1"], "p_target must lie in (0, 1)"),
        (["--p-target", "1.5"], "p_target"),
        (["--pfa", "0"], "Pfa"),
        (["--pfa", "1e-9"], "too few for Pfa 1e-09"),
        (["--samples", "999"], "at least 1000 H0 snapshots"),
        (["--samples", "1000000000000"], "[1, 1e+09]"),
        (["--samples", "1e6"], "argument --samples"),
        (["--rho", "nan"], "finite"),
        (["--rho", "-0.1"], "rho must lie in [0, 1]"),
        (["--device", "meta"], "--device must be cpu, cuda or cuda:N"),
        (["--device", "nonsense"], "unknown device"),
        (["--device", "cuda:99"], "CUDA device"),
    ],
)
def test_baseline(capsys, args, match):
    _refused(
        capsys, ["baseline", "--samples", "1000", *args] if "--samples" not in args else ["baseline", *args], match
    )


def test_pfa_rule_is_checked_against_the_samples_given(capsys):
    # 10 expected false alarms: Pfa 1e-3 needs 10000 H0 snapshots.
    _refused(capsys, ["baseline", "--pfa", "1e-3", "--samples", "9999"], "at least 10000 H0 snapshots")


def test_an_evaluation_refusal_becomes_one_line(capsys, monkeypatch):
    """A ValueError from evaluate() (e.g. its own H0 size check) is reported, not a traceback."""
    from isac_ae import evaluation

    def refuse(*args, **kwargs):
        raise ValueError("Pfa 0.01 needs at least 1000 H0 snapshots (10 expected false alarms), got 100")

    monkeypatch.setattr(evaluation, "evaluate", refuse)
    _refused(capsys, ["baseline", "--samples", "1000"], "needs at least 1000 H0 snapshots")


@pytest.mark.parametrize(
    "args, match",
    [
        (["--rhos", ""], "one or more"),
        (["--rhos", ","], "one or more"),
        (["--rhos", "0.5,,1"], "empty value"),
        (["--rhos", "0.5,0.5"], "duplicate"),
        (["--rhos", "1.5"], "rho must lie in [0, 1]"),
        (["--rhos", "inf"], "finite"),
        (["--phi-steps", "1000000000"], "[1, 360]"),
        (["--phi-steps", "0"], "[1, 360]"),
        (["--M", "8"], "square |M|"),
        (["--pfa", "1e-3", "--samples", "5000"], "too few for Pfa 0.001"),
        (["--seed", "-3"], "argument --seed"),
    ],
)
def test_baseline_sweep_writes_nothing(capsys, tmp_path, args, match):
    out = tmp_path / "sweep"
    _refused(capsys, ["baseline-sweep", "--out", str(out), "--samples", "5000", *args], match)
    assert not out.exists()


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("keep me")
    return path


def _outputs(tmp_path, a_file):
    """--out values that cannot take files, each with the message expected."""
    taken = tmp_path / "taken"
    (taken / "baseline_sweep.csv").mkdir(parents=True)
    (taken / "checkpoint.pt").mkdir()
    return [
        (a_file, "exists and is not a directory"),
        (a_file / "sub", "cannot write to output directory"),
        (taken, "is a directory, but this command writes a file there"),
    ]


def test_outputs_are_checked_before_any_work(capsys, tmp_path, a_file, monkeypatch):
    from isac_ae.autoencoder import Trainer

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "run", no_training)
    for out, match in _outputs(tmp_path, a_file):
        for argv in (
            ["baseline-sweep", "--out", str(out), "--samples", "1000"],
            ["train", "--omega", "0.5", "--out", str(out)],
        ):
            if out.name == "taken" and argv[0] == "train":
                match_here = "checkpoint.pt is a directory"
            else:
                match_here = match
            _refused(capsys, argv, match_here)
        if out != tmp_path / "taken":  # reproduce writes no fixed names beside its own tables
            _refused(capsys, ["reproduce", "fig3", "--out", str(out), "--samples", "1000"], match)
    assert a_file.read_text() == "keep me"


def test_train_refuses_a_model_path_that_is_a_directory(capsys, tmp_path):
    out = tmp_path / "out"
    (out / "omega_0.5.safetensors").mkdir(parents=True)
    _refused(capsys, ["train", "--omega", "0.1,0.5", "--out", str(out)], "omega_0.5.safetensors is a directory")
    assert sorted(p.name for p in out.iterdir()) == ["omega_0.5.safetensors"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_output_is_refused(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _refused(capsys, ["baseline-sweep", "--out", str(locked / "sweep"), "--samples", "1000"], "cannot write")
    _refused(capsys, ["train", "--omega", "0.5", "--out", str(locked)], "cannot write")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux sysfs")
def test_output_on_a_filesystem_that_takes_no_files_is_refused(capsys):
    # sysfs refuses new files even to root: the write test, not a permission bit, decides.
    _refused(
        capsys,
        ["baseline-sweep", "--out", "/sys/kernel", "--samples", "1000"],
        "cannot write to output directory /sys/kernel",
    )


@pytest.mark.parametrize(
    "args, match",
    [
        (["--lr", "0"], "learning rate must be positive"),
        (["--lr", "-1"], "learning rate must be positive"),
        (["--lr", "nan"], "finite"),
        (["--batch-size", "10000000"], "[1, 1048576]"),
        (["--batch-size", "5000", "--samples-per-stage", "1000"], "exceeds the 1000 samples per stage"),
        (["--samples-per-stage", "0"], "argument --samples-per-stage"),
        (["--p-target", "0"], "p_target must lie in (0, 1) for training"),
        (["--seed", "-1"], "argument --seed"),
        (["--omega", "nan"], "finite"),
        (["--omega", "-0.1"], "omega_r must lie in [0, 1]"),
        (["--omega", "0.1,,0.2"], "empty value"),
        (["--omega", "0.1,0.1"], "duplicate"),
        (["--K", "0"], "[1, 4096]"),
        (["--device", "nonsense"], "unknown device"),
    ],
)
def test_train_trains_nothing(capsys, tmp_path, args, match):
    out = tmp_path / "models"
    argv = ["train", "--out", str(out), "--quiet", *args]
    if "--omega" not in args:
        argv += ["--omega", "0.5"]
    _refused(capsys, argv, match)
    assert not out.exists()


def test_diverging_training_is_refused_and_writes_no_model(capsys, tmp_path):
    out = tmp_path / "models"
    # lr 1e6: the weights turn non-finite at the second step; the check at the stage's end (step 4) stops it.
    _refused(
        capsys,
        [
            "train",
            "--omega",
            "0.5",
            "--out",
            str(out),
            "--quiet",
            "--lr",
            "1e6",
            "--samples-per-stage",
            "2000",
            "--batch-size",
            "500",
        ],
        "training diverged",
    )
    assert list(out.iterdir()) == []


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(3)
    return save_model(
        tmp_path / "m" / "omega_0.5.safetensors", Autoencoder(16, 4), Scenario(), 0.5, {"budget": "quick"}
    )


def _doctor(model_file, out, edit):
    meta = read_metadata(model_file)
    edit(meta)
    from safetensors.torch import load_file

    save_file(load_file(str(model_file)), str(out), metadata={"isac_ae": json.dumps(meta)})
    return out


def test_evaluate(capsys, tmp_path, model_file):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(model_file.read_bytes()[:1000])
    zeros = tmp_path / "zeros.safetensors"
    zeros.write_bytes(bytes(model_file.stat().st_size))
    no_omega = _doctor(model_file, tmp_path / "no_omega.safetensors", lambda m: m.pop("omega"))
    never_absent = _doctor(model_file, tmp_path / "p1.safetensors", lambda m: m["scenario"].update(p_target=1.0))
    cases = [
        ([str(tmp_path)], "is a directory, not a model file"),
        ([str(truncated)], "is not a readable model file"),
        ([str(zeros)], "is not a readable model file"),
        ([str(no_omega)], "lacks 'omega'"),
        ([str(never_absent)], "p_target must lie in (0, 1)"),
        ([str(model_file), "--K", "8"], "num_antennas: model 16, requested 8"),
        ([str(model_file), "--samples", "999"], "at least 1000 H0 snapshots"),
        ([str(model_file), "--seed", "-1"], "argument --seed"),
        ([str(model_file), "--device", "nonsense"], "unknown device"),
    ]
    for args, match in cases:
        _refused(capsys, ["evaluate", "--samples", "1000", *args], match)


def test_models_with_a_bad_file(capsys, tmp_path, model_file):
    sweep = tmp_path / "models" / "s"
    sweep.mkdir(parents=True)
    _doctor(model_file, sweep / "omega_0.5.safetensors", lambda m: m.update(omega="0.5"))
    _refused(capsys, ["models", "--dir", str(tmp_path / "models")], "'omega' must be a number")
    (sweep / "omega_0.5.safetensors").write_text("[1, 2]")
    _refused(capsys, ["models", "--dir", str(tmp_path / "models")], "is not a readable model file")


@pytest.mark.parametrize(
    "args, match",
    [
        (["--samples", "999"], "at least 1000 H0 snapshots"),
        (["--impairments", "bogus"], "unknown impairment sweep(s) 'bogus'"),
        (["--impairments", ""], "unknown impairment sweep(s) ''"),
        (["--impairments", "spacing_l30,spacing_l30"], "duplicate impairment sweeps"),
        (["--seed", "-1"], "argument --seed"),
        (["--device", "meta"], "--device must be cpu"),
    ],
)
def test_reproduce_writes_nothing(capsys, tmp_path, args, match):
    out = tmp_path / "paper"
    _refused(capsys, ["reproduce", "fig5", "--out", str(out), *args], match)
    assert not out.exists()
