"""The omega_r-conditioned autoencoder: one set of weights, omega_r as an input of all six networks."""

import json
import math

import pytest
import torch

from isac_ae import Scenario
from isac_ae.autoencoder import Autoencoder, AutoencoderSystem, Trainer, TrainingConfig, TrainingError
from isac_ae.autoencoder.model import OMEGA_FEATURES, omega_condition
from isac_ae.autoencoder.modelfile import load_model
from isac_ae.autoencoder.networks import EnsembleLinear
from isac_ae.autoencoder.sweep import CONDITIONED_NAME, write_sweep
from isac_ae.autoencoder.training import draw_omegas
from isac_ae.cli import main
from isac_ae.evaluation import evaluate
from isac_ae.pretrained import sweep_dir

from .helpers import proportion_tolerance


def test_a_condition_is_a_concatenated_input(generator):
    """The first layer folds the condition into the bias: the same as a layer on [x, condition] per row."""
    layer = EnsembleLinear(1, 5 + 2, 3)
    x = torch.randn(4, 6, 5, generator=generator)
    condition = torch.randn(4, 2, generator=generator)
    concatenated = torch.cat([x, condition.unsqueeze(1).expand(-1, 6, -1)], dim=-1)
    expected = concatenated @ layer.weight[0] + layer.bias[0]
    torch.testing.assert_close(layer(x, condition), expected)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return Autoencoder(16, 4, conditions=OMEGA_FEATURES, hidden_scale=2).eval()


def test_outputs_at_an_omega_are_a_forward_pass_at_it_alone(model, scenario, generator):
    """No hidden state: a batch of conditions gives row by row what each condition gives alone, and the
    system at omega_r runs exactly that forward pass."""
    omegas = torch.tensor([0.0, 0.015, 0.09, 1.0])
    sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32)
    z = torch.randn(1, 64, 16, dtype=torch.complex64, generator=generator)
    with torch.no_grad():
        points, beams = model.transmitter(sectors, omega_condition(omegas))
        logits, thetas, sigmas = model.radar(z.expand(4, -1, -1), omega_condition(omegas))
        for i, w in enumerate(omegas.tolist()):
            alone = omega_condition(torch.tensor([w]))
            p, v = model.transmitter(sectors, alone)
            torch.testing.assert_close(points[i], p[0])
            torch.testing.assert_close(beams[i], v[0])
            torch.testing.assert_close(model.radar(z, alone)[1][0], thetas[i])
            system = AutoencoderSystem(model, scenario, omega=w)
            torch.testing.assert_close(system.beam, v[0])
            torch.testing.assert_close(system.radar_receive(z[0])[0], logits[i])
    assert not torch.allclose(beams[0], beams[-1]), "omega_r must reach the beamformer"


def test_the_omega_draws_cover_the_range_stratified(generator):
    draws = draw_omegas(11, 0.0, 1.0, generator)
    assert draws.shape == (11,) and draws.min() >= 0.0 and draws.max() <= 1.0
    u = torch.log10(999.0 * draws + 1.0) / 3.0  # back to the stratified variable
    assert torch.equal(torch.floor(u * 11).long(), torch.arange(11))


def test_training_writes_one_model_that_the_cli_evaluates_at_any_omega(tmp_path, capsys):
    sc = Scenario()
    config = TrainingConfig(omegas=(0.0, 1.0), conditioned=3, samples_per_stage=2000, batch_size=1000)
    trainer = Trainer(sc, config)
    trainer.run()
    (path,) = write_sweep(trainer, tmp_path / "models" / "conditioned")
    assert path.name == CONDITIONED_NAME
    loaded = load_model(path)
    assert loaded.conditioned and loaded.metadata["conditioning"]["omega_range"] == [0.0, 1.0]
    for name, tensor in trainer.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor)
    assert main(["evaluate", str(path), "--omega", "0.5", "--samples", "2000", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["omega"] == 0.5 and result["conditioned"] is True
    assert main(["models", "--dir", str(tmp_path / "models"), "--json"]) == 0
    entries = [e for e in json.loads(capsys.readouterr().out) if e["path"] == str(path)]
    assert entries[0]["conditioned"] is True


def test_bad_input(model, scenario, capsys):
    with pytest.raises(ValueError, match="needs omega_r"):
        AutoencoderSystem(model, scenario)
    with pytest.raises(ValueError, match="conditioned models only"):
        AutoencoderSystem(Autoencoder(16, 4), scenario, omega=0.1)
    with pytest.raises(TrainingError, match="low, high"):
        TrainingConfig(omegas=(0.0, 0.5, 1.0), conditioned=4)
    with pytest.raises(ValueError, match="one member"):
        Autoencoder(16, 4, members=2, conditions=2)
    shipped = "models/nominal/omega_0.09.safetensors"
    assert main(["evaluate", shipped, "--omega", "0.5", "--samples", "2000"]) == 2
    assert "not conditioned" in capsys.readouterr().err


def test_the_shipped_model_moves_along_the_trade_off_monotonically():
    """On one test set, raising omega_r raises Pd and SER (within the sampling error of a difference of two
    proportions), from one end of the trade-off to the other."""
    loaded = load_model(sweep_dir("conditioned") / CONDITIONED_NAME)
    n, omegas = 20_000, (0.0, 0.005, 0.015, 0.05, 0.15, 0.5, 1.0)
    results = [evaluate(AutoencoderSystem(loaded.model, loaded.scenario, omega=w), n, seed=3) for w in omegas]
    for metric in ("pd", "ser"):
        values = [getattr(r, metric) for r in results]
        for low, high in zip(values, values[1:]):
            assert high >= low - math.sqrt(2) * proportion_tolerance(max(low, 1.0 / n), n), (metric, values)
        assert values[-1] - values[0] > math.sqrt(2) * proportion_tolerance(values[-1], n), (metric, values)
