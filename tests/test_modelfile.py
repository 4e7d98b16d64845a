"""Model files: round trip, metadata, and refusal of missing, corrupt or mismatched files."""

import json

import pytest
import torch
from safetensors.torch import save_file

from isac_ae import Scenario
from isac_ae.autoencoder import Autoencoder, AutoencoderSystem
from isac_ae.autoencoder.modelfile import ModelFileError, load_model, read_metadata, save_model
from isac_ae.autoencoder.sweep import load_sweep, model_filename


@pytest.fixture
def model():
    torch.manual_seed(5)
    return Autoencoder(16, 4)


def test_saved_and_loaded_model_gives_identical_outputs(tmp_path, model, generator):
    sc = Scenario(spacing_std=1 / 30, impairment_seed=3)
    path = save_model(tmp_path / "m.safetensors", model, sc, 0.09, {"budget": "quick"})
    loaded = load_model(path, sc)
    z = torch.randn(1, 500, 16, dtype=torch.complex64, generator=generator)
    for a, b in zip(model.radar(z), loaded.model.radar(z)):
        assert torch.equal(a, b)
    sectors = torch.tensor(sc.theta_vector, dtype=torch.float32)
    for a, b in zip(model.transmitter(sectors), loaded.model.transmitter(sectors)):
        assert torch.equal(a, b)
    eq = torch.randn(1, 500, dtype=torch.complex64, generator=generator)
    assert torch.equal(model.comm(eq), loaded.model.comm(eq))
    assert loaded.omega == 0.09 and loaded.scenario == sc
    meta = read_metadata(path)
    assert meta["true_positions_wavelengths"] == pytest.approx(list(sc.true_positions()), abs=0)
    assert meta["num_antennas"] == 16 and meta["num_messages"] == 4 and meta["training"] == {"budget": "quick"}


def test_mismatched_scenario_is_refused(tmp_path, model):
    path = save_model(tmp_path / "m.safetensors", model, Scenario(), 0.5, {})
    with pytest.raises(ModelFileError, match="another scenario.*spacing_std"):
        load_model(path, Scenario(spacing_std=1 / 30))
    with pytest.raises(ModelFileError, match="num_antennas: model 16, requested 8"):
        load_model(path, Scenario(num_antennas=8))
    with pytest.raises(ValueError, match="K=16"):
        AutoencoderSystem(model, Scenario(num_antennas=8))


def test_missing_corrupt_and_foreign_files_are_refused(tmp_path, model):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "absent.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(corrupt)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ModelFileError, match="without isac_ae metadata"):
        load_model(foreign)
    # Metadata consistently claims K=8 but the weights are K=16: refused from the header's shapes.
    wrong = tmp_path / "wrong.safetensors"
    meta = read_metadata(save_model(tmp_path / "ok.safetensors", model, Scenario(), 0.5, {}))
    meta["scenario"]["num_antennas"] = meta["num_antennas"] = 8
    meta["true_positions_wavelengths"] = [0.5 * k for k in range(8)]
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(wrong), metadata={"isac_ae": json.dumps(meta)}
    )
    with pytest.raises(ModelFileError, match=r"do not fit K=8.*has shape \[1, 16, 32\], expected \[1, 16, 16\]"):
        load_model(wrong)


def test_sweep_directory_is_ordered_by_omega(tmp_path, model):
    for w in (0.4, 1e-6, 0.015):
        save_model(tmp_path / model_filename(w), model, Scenario(), w, {})
    assert [m.omega for m in load_sweep(tmp_path)] == [1e-6, 0.015, 0.4]
    with pytest.raises(ModelFileError, match="no model files"):
        load_sweep(tmp_path / "empty")
