"""Hostile model files: doctored headers, changed position draws, shapes that do not fit, non-finite weights.

Every one must give a ModelFileError naming the reason, before any network is
built from the file's claims and before any weight is read.
"""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from isac_ae import Scenario
from isac_ae.autoencoder import Autoencoder, modelfile
from isac_ae.autoencoder.modelfile import ModelFileError, load_model, read_metadata, save_model, source_commit

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def model():
    torch.manual_seed(5)
    return Autoencoder(16, 4)


@pytest.fixture
def saved(tmp_path, model):
    return save_model(
        tmp_path / "ok.safetensors", model, Scenario(spacing_std=1 / 30, impairment_seed=3), 0.09, {"budget": "quick"}
    )


def _doctor(path: Path, out: Path, header_text: str = None, tensors: dict = None, edit=None) -> Path:
    """A copy of model file ``path`` with its metadata JSON replaced, edited in place by ``edit``, or its tensors."""
    meta = read_metadata(path)
    if edit is not None:
        edit(meta)
    if tensors is None:
        tensors = {k: v.contiguous() for k, v in load_model(path).model.state_dict().items()}
    save_file(tensors, str(out), metadata={"isac_ae": header_text if header_text is not None else json.dumps(meta)})
    return out


def _setter(*keys_and_value):
    *keys, value = keys_and_value

    def edit(meta):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


def _deleter(key):
    return lambda meta: meta.pop(key)


@pytest.mark.parametrize(
    "header, message",
    [
        ("[1, 2, 3]", "must be a JSON object, got list"),
        ('"a string"', "must be a JSON object, got str"),
        ("42", "must be a JSON object, got int"),
        ("null", "must be a JSON object, got NoneType"),
        ("{not json", "corrupt metadata"),
    ],
)
def test_metadata_that_is_not_an_object_is_refused(tmp_path, saved, header, message):
    bad = _doctor(saved, tmp_path / "bad.safetensors", header_text=header)
    for read in (read_metadata, load_model):
        with pytest.raises(ModelFileError, match=message):
            read(bad)


@pytest.mark.parametrize(
    "edit, message",
    [
        (_deleter("omega"), "lacks 'omega'"),
        (_deleter("scenario"), "lacks 'scenario'"),
        (_deleter("training"), "lacks 'training'"),
        (_deleter("true_positions_wavelengths"), "lacks 'true_positions_wavelengths'"),
        (_deleter("format_version"), "unsupported model format"),
        (_setter("omega", "0.09"), "'omega' must be a number"),
        (_setter("omega", True), "'omega' must be a number"),
        (_setter("omega", 1.5), r"omega must lie in \[0, 1\]"),
        (_setter("num_antennas", "16"), "'num_antennas' must be an integer"),
        (_setter("num_messages", 4.0), "'num_messages' must be an integer"),
        (_setter("scenario", [16, 4]), "'scenario' must be an object"),
        (_setter("training", "quick"), "'training' must be an object"),
        (_setter("true_positions_wavelengths", "0, 0.5"), "must be a list"),
        (_setter("true_positions_wavelengths", [0.5 * k for k in range(15)]), "K=16 finite numbers"),
        (_setter("git_commit", 12), "'git_commit' must be a string"),
        (_setter("command", ["isac-ae"]), "'command' must be a string"),
        (_setter("scenario", "snr_comm_db", "20"), "invalid scenario.*snr_comm_db must be a number"),
        (_setter("scenario", "impairment_seed", -1), "invalid scenario.*impairment_seed"),
        (_setter("scenario", "bogus", 1), "invalid scenario.*unknown"),
        (_setter("num_antennas", 8), "metadata says K=8.*scenario has K=16"),
    ],
)
def test_metadata_with_a_missing_or_mistyped_field_is_refused(tmp_path, saved, edit, message):
    bad = _doctor(saved, tmp_path / "bad.safetensors", edit=edit)
    for read in (read_metadata, load_model):
        with pytest.raises(ModelFileError, match=message):
            read(bad)


def _refuse_reading_weights(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the weights were read before the header was checked")

    monkeypatch.setattr(modelfile, "load_file", fail)


def test_huge_k_in_the_header_is_refused_before_anything_is_built(tmp_path, saved, monkeypatch):
    def huge(meta):
        meta["num_antennas"] = meta["scenario"]["num_antennas"] = 100_000_000

    bad = _doctor(saved, tmp_path / "huge.safetensors", edit=huge)
    _refuse_reading_weights(monkeypatch)
    with pytest.raises(ModelFileError, match=r"K \(num_antennas\) must be an integer in \[1, 4096\]"):
        load_model(bad)


def test_shapes_from_the_header_are_checked_before_the_weights_are_read(tmp_path, saved, monkeypatch):
    # K = 4096 is a valid scenario: a network built from it would take gigabytes. The header's
    # shapes (K = 16) refuse it first.
    def big(meta):
        meta["num_antennas"] = meta["scenario"]["num_antennas"] = 4096
        meta["scenario"]["spacing_std"] = 0.0
        meta["true_positions_wavelengths"] = [0.5 * k for k in range(4096)]

    bad = _doctor(saved, tmp_path / "big.safetensors", edit=big)
    _refuse_reading_weights(monkeypatch)
    with pytest.raises(ModelFileError, match=r"weights do not fit K=4096, \|M\|=4: tensor .* has shape"):
        load_model(bad)


def test_missing_and_extra_tensors_are_refused(tmp_path, saved, model):
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    dropped = dict(tensors)
    dropped.pop("comm.net.layers.3.bias")
    with pytest.raises(ModelFileError, match=r"missing \['comm.net.layers.3.bias'\], unexpected \[\]"):
        load_model(_doctor(saved, tmp_path / "dropped.safetensors", tensors=dropped))
    with pytest.raises(ModelFileError, match=r"missing \[\], unexpected \['extra'\]"):
        load_model(_doctor(saved, tmp_path / "extra.safetensors", tensors={**tensors, "extra": torch.zeros(3)}))


def test_changed_position_draw_is_refused(tmp_path, saved):
    recorded = read_metadata(saved)["true_positions_wavelengths"]

    def shift(delta):
        return _setter("true_positions_wavelengths", [p + (delta if k == 5 else 0.0) for k, p in enumerate(recorded)])

    # A draw that moved one element by a micro-wavelength: the random stream changed.
    moved = _doctor(saved, tmp_path / "moved.safetensors", edit=shift(1e-6))
    for read in (read_metadata, load_model):
        with pytest.raises(ModelFileError, match="element 5: .*the spacing impairment's random draw has changed"):
            read(moved)
    # Within the tolerance of 1e-9 wavelengths: JSON round-off must not refuse a file.
    assert load_model(_doctor(saved, tmp_path / "rounded.safetensors", edit=shift(1e-10))).omega == 0.09
    # A model for the impaired array claimed for another impairment seed.
    reseeded = _doctor(saved, tmp_path / "reseeded.safetensors", edit=_setter("scenario", "impairment_seed", 4))
    with pytest.raises(ModelFileError, match="random draw has changed"):
        load_model(reseeded)


def test_non_finite_weights_are_refused_on_save_and_on_load(tmp_path, saved, model):
    tensors = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    tensors["angle.net.layers.1.weight"][0, 0, 0] = float("nan")
    with pytest.raises(ModelFileError, match="non-finite weights in angle.net.layers.1.weight"):
        load_model(_doctor(saved, tmp_path / "nan.safetensors", tensors=tensors))
    with torch.no_grad():
        model.comm.net.layers[0].bias[0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="non-finite weights.*diverged"):
        save_model(tmp_path / "inf.safetensors", model, Scenario(), 0.5, {})
    assert not (tmp_path / "inf.safetensors").exists()


def test_directory_truncated_and_zero_files_are_refused(tmp_path, saved):
    with pytest.raises(ModelFileError, match="is a directory, not a model file"):
        load_model(tmp_path)
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    zeros = tmp_path / "zeros.safetensors"
    zeros.write_bytes(bytes(len(data)))
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    for path in (truncated, zeros, empty):
        with pytest.raises(ModelFileError, match="is not a readable model file"):
            load_model(path)


def _git_head():
    if shutil.which("git") is None:
        return None
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def test_provenance_is_recorded(tmp_path, saved, model):
    meta = read_metadata(saved)
    head = _git_head()
    tracked = (
        head is not None
        and subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "--error-unmatch", modelfile.__file__], capture_output=True
        ).returncode
        == 0
    )
    if tracked:  # running from the checkout's source
        assert meta["git_commit"] in (head, head + "-dirty")
    else:
        assert meta["git_commit"] == "unknown"
    # A library call records the process's command line as such.
    assert meta["command"] == "library call from: " + shlex.join(sys.argv)
    given = save_model(tmp_path / "cli.safetensors", model, Scenario(), 0.5, {}, command="isac-ae train --omega 0.5")
    assert read_metadata(given)["command"] == "isac-ae train --omega 0.5"


def test_missing_git_gives_unknown_not_an_error(tmp_path, model, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable anywhere
    assert source_commit() == "unknown"
    path = save_model(tmp_path / "m.safetensors", model, Scenario(), 0.5, {})
    assert read_metadata(path)["git_commit"] == "unknown"


def test_files_without_provenance_still_load(tmp_path, saved):
    def legacy(meta):
        for key in ("git_commit", "command", "package_version"):
            meta.pop(key)

    old = _doctor(saved, tmp_path / "old.safetensors", edit=legacy)
    assert "git_commit" not in load_model(old).metadata


def test_shipped_models_load():
    files = sorted((REPO / "models").glob("*/*.safetensors"))
    if not files:
        pytest.skip("no shipped models in this checkout")
    for path in files:
        meta = read_metadata(path)  # the position check included
        k = {"pluto2": 2, "phaser": 8}.get(path.parent.name, 16)  # the hardware examples' models, the paper's K
        assert meta["num_antennas"] == k and 0.0 <= meta["omega"] <= 1.0
        assert load_model(path).scenario.num_antennas == k
    assert load_model(files[0]).model.members == 1
