"""`isac-ae hw finetune` on the emulated 2R2T Pluto twin with the shipped K = 2 model: each method writes an
ordinary model file that `isac-ae hw evaluate` runs over the same board, whose metadata names the device,
the URI, the data used and the method's report; a second run of an interrupted command resumes (and reuses
what the first one measured), of a finished one is refused; bad input is one line and exit code 2.

Whether a method improves the model, and that a resumed run ends with an uninterrupted one's weights, is
tested on the methods themselves (tests/hw/test_finetune_*.py); here, the command around them.
"""

import contextlib
import dataclasses
import hashlib
import json
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from isac_ae.autoencoder.modelfile import load_model, read_metadata  # noqa: E402
from isac_ae.cli import main  # noqa: E402
from isac_ae.hw import commands  # noqa: E402
from isac_ae.hw.emulator import Emulator  # noqa: E402
from isac_ae.hw.manifold import Manifold  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402
from isac_ae.pretrained import sweep_dir  # noqa: E402

DEVICE, TWIN_SEED = "pluto2", 3
MODEL = sweep_dir("pluto2") / "omega_0.09.safetensors"
NOMINAL_K16 = sweep_dir("nominal") / "omega_0.09.safetensors"
NOWHERE = "ip:127.0.0.1:1"  # nothing listens on port 1


@pytest.fixture(scope="module")
def emulator():
    with Emulator(DEVICE, 0, source=DigitalTwin(DEVICE, TWIN_SEED).source(), comm_receiver=True) as served:
        yield served


@pytest.fixture(scope="module")
def captures(emulator, tmp_path_factory):
    """12 labelled recordings of the K = 2 model's transmitter (seed 0: both classes, no frame lost)."""
    out = tmp_path_factory.mktemp("captures")
    argv = ["--model", str(MODEL), "--out", str(out), "--captures", "12", "--data-samples", "512", "--seed", "0"]
    assert main(["hw", "capture", "--device", DEVICE, "--uri", emulator.uris[0], *argv]) == 0
    return out


def _run(capsys, *argv):
    code = main(["hw", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _finetune(capsys, uri, out, *argv):
    return _run(capsys, "finetune", "--device", DEVICE, "--uri", uri, "--model", str(MODEL), "--out", str(out), *argv)


def _interrupted_at(monkeypatch, report: int, steps: list):
    """Make the command's progress callback record every report's step and raise KeyboardInterrupt (what
    Ctrl-C raises) at the ``report``-th one; ``report`` 0 records only."""
    real = commands._finetune_progress

    @contextlib.contextmanager
    def progress(enabled):
        with real(enabled) as update:

            def recorded(r):
                update(r)
                steps.append(r.step)
                if len(steps) == report:
                    raise KeyboardInterrupt

            yield recorded

    monkeypatch.setattr(commands, "_finetune_progress", progress)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fine_tuning(path) -> dict:
    """The fine-tuning record of a model file, after checking it loads as an ordinary model file of MODEL's
    scenario and that its weights moved."""
    loaded, nominal = load_model(path), load_model(MODEL)
    assert loaded.scenario == nominal.scenario and loaded.omega == nominal.omega
    assert any(not torch.equal(w, nominal.model.state_dict()[k]) for k, w in loaded.model.state_dict().items())
    training = read_metadata(path)["training"]
    assert training["nominal"]["sha256"] == _sha256(MODEL)
    assert read_metadata(path)["command"].startswith("isac-ae hw finetune")
    json.dumps(training)
    return training["fine_tuning"]


def _evaluates(capsys, uri, path) -> None:
    """`isac-ae hw evaluate --model` runs the file over the board."""
    code, out, err = _run(
        capsys,
        "evaluate",
        "--device",
        DEVICE,
        "--uri",
        uri,
        "--model",
        str(path),
        "--samples",
        "2048",
        "--block",
        "256",
    )
    assert code == 0, err
    assert f"model = {path}" in out and "Pd" in out and "SER" in out


def _one_line(code, out, err, message) -> None:
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_surrogate_measures_into_out_resumes_on_them_and_writes_a_model_hw_evaluate_runs(
    emulator, tmp_path, capsys, monkeypatch
):
    uri = emulator.uris[0]
    steps = []
    _interrupted_at(monkeypatch, 3, steps)
    code, out, err = _finetune(capsys, uri, tmp_path, "--method", "surrogate")
    assert code == 130 and steps == [1, 2, 3]
    assert "calibrating into" in err and "measuring the manifold into" in err
    assert "the same command resumes from" in err
    measured = {name: _sha256(tmp_path / name) for name in ("manifold.npz", "calibration.json")}
    monkeypatch.undo()

    # The same command again: the measurements of the first run are used, not taken again (a new
    # measurement would differ, and the fit recorded with the checkpoint would refuse it).
    code, out, err = _finetune(capsys, uri, tmp_path, "--method", "surrogate")
    assert code == 0, err
    assert "calibrating" not in err and "measuring" not in err
    assert f"using {tmp_path / 'manifold.npz'} of an earlier run" in err
    assert f"using {tmp_path / 'calibration.json'} of an earlier run" in err
    assert {name: _sha256(tmp_path / name) for name in measured} == measured
    result = tmp_path / "surrogate_omega_0.09.safetensors"
    assert f"wrote {result}" in out and "TX gains from the calibration" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "manifold.npz", result.name]

    record = _fine_tuning(result)
    assert (record["method"], record["device"], record["uri"]) == ("surrogate", DEVICE, uri)
    for name, digest in measured.items():
        assert record["inputs"][name.split(".")[0]] == {"path": str(tmp_path / name), "sha256": digest}
    assert record["report"]["method"] == "surrogate" and record["report"]["fit"]["tx_source"] == "calibration"
    assert record["report"]["budget"]["name"] == "quick"
    _evaluates(capsys, uri, result)

    # A third run finds the finished result: refused, not redone.
    _one_line(*_finetune(capsys, uri, tmp_path, "--method", "surrogate"), "this fine-tuning has finished")


def test_receivers_resume_from_their_checkpoint_after_an_interruption(
    emulator, captures, tmp_path, capsys, monkeypatch
):
    from isac_ae.hw.finetune.receivers import BUDGETS

    every = BUDGETS["quick"].check_every
    argv = ("--method", "receivers", "--captures", str(captures), "--seed", "1")
    first = []
    _interrupted_at(monkeypatch, 2, first)
    code, out, err = _finetune(capsys, NOWHERE, tmp_path, *argv)  # receivers never connect to the board
    assert code == 130 and first == [every, 2 * every]
    checkpoint = tmp_path / "receivers_omega_0.09.checkpoint.pt"
    assert checkpoint.exists() and f"the same command resumes from {checkpoint}" in err

    monkeypatch.undo()
    second = []
    _interrupted_at(monkeypatch, 0, second)
    code, out, err = _finetune(capsys, NOWHERE, tmp_path, *argv)
    assert code == 0, err
    assert f"resuming from {checkpoint}" in err
    assert second[0] == 3 * every  # it went on from the second check, it did not start over
    assert not checkpoint.exists()
    result = tmp_path / "receivers_omega_0.09.safetensors"
    record = _fine_tuning(result)
    assert (record["method"], record["device"], record["uri"]) == ("receivers", DEVICE, NOWHERE)
    assert record["inputs"] == {"captures": str(captures)}
    report = record["report"]
    assert report["method"] == "receivers" and report["steps"] == second[-1]
    assert len(report["captures"]["train"]) + len(report["captures"]["held_out"]) == 12
    assert "held-out J_ISAC" in out
    _evaluates(capsys, emulator.uris[0], result)


def test_model_free_trains_through_the_live_link(emulator, tmp_path, capsys, monkeypatch):
    model_free = pytest.importorskip("isac_ae.hw.finetune.model_free")
    monkeypatch.setitem(model_free.BUDGETS, "quick", dataclasses.replace(model_free.BUDGETS["quick"], steps=2))
    uri, block = emulator.uris[0], 256
    code, out, err = _finetune(capsys, uri, tmp_path, "--method", "model-free", "--block", str(block))
    assert code == 0, err
    result = tmp_path / "model_free_omega_0.09.safetensors"
    record = _fine_tuning(result)
    assert (record["method"], record["device"], record["uri"]) == ("model-free", DEVICE, uri)
    calls = 2 * 2 * model_free.BUDGETS["quick"].pairs  # steps x pairs x (+, -)
    link = record["inputs"]["link"]
    assert record["inputs"]["block"] == block and link["snapshots"] == calls * block and link["scenes"] == calls
    assert record["report"]["method"] == "model-free" and record["report"]["device"] == DEVICE
    _evaluates(capsys, uri, result)


def test_model_free_without_its_module_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "isac_ae.hw.finetune.model_free", None)  # as if it were not installed
    _one_line(
        *_finetune(capsys, NOWHERE, tmp_path, "--method", "model-free"),
        "--method model-free is not available in this installation",
    )


def test_bad_input_is_one_line_and_exit_code_2(captures, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("")
    other = tmp_path / "fmcomms5.npz"
    four = tmp_path / "four.npz"
    for device, path in (("fmcomms5", other), (DEVICE, four)):
        Manifold(device, np.zeros(1), np.ones((1, 4), complex), np.zeros(1), 2.4e9, NOWHERE, "now", "test").save(path)
    receivers = ["--method", "receivers", "--captures"]
    cases = [
        # captures of another device and K (the K = 16 model on the Quad-MxFE, Pluto captures)
        (
            ["--device", "quadmxfe", "--model", str(NOMINAL_K16), *receivers, str(captures)],
            "is a capture of pluto2 with K = 2, not of the quadmxfe with the model's K = 16",
        ),
        (["--device", DEVICE, "--model", str(MODEL), *receivers, str(empty)], "no captures in"),
        # a model whose scenario (K = 2) is not the device's (K = 16)
        (
            ["--device", "quadmxfe", "--model", str(MODEL), *receivers, str(captures)],
            "the quadmxfe profile has K = 16 elements; the scenario has K = 2",
        ),
        (["--device", DEVICE, "--model", str(MODEL), "--method", "receivers"], "--method receivers needs --captures"),
        (
            ["--device", DEVICE, "--model", str(MODEL), "--method", "surrogate", "--manifold", str(other)],
            "was measured on a fmcomms5, not a pluto2",
        ),
        (
            ["--device", DEVICE, "--model", str(MODEL), "--method", "surrogate", "--manifold", str(four)],
            "four.npz has K = 4 elements, the pluto2 has K = 2",
        ),
        (
            ["--device", DEVICE, "--model", str(MODEL), "--method", "surrogate", "--captures", str(captures)],
            "--captures is not an input of --method surrogate",
        ),
        (["--device", DEVICE, "--model", str(MODEL), "--method", "surrogate"], f"nothing answers at {NOWHERE}"),
        (["--device", "phaser", "--model", str(MODEL), "--method", "surrogate"], "cannot run a live ISAC loop"),
    ]
    for argv, message in cases:
        out = tmp_path / "out"
        _one_line(*_run(capsys, "finetune", "--uri", NOWHERE, "--out", str(out), *argv), message)
        assert not list(out.glob("*.safetensors"))
    argv = ["--device", DEVICE, "--model", str(MODEL), *receivers, str(captures)]
    _one_line(*_run(capsys, "finetune", "--uri", NOWHERE, "--out", str(afile), *argv), "exists and is not a directory")
