"""The sector-conditioned autoencoder: omega_r and both sectors as inputs, trained over drawn sectors."""

import json
import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.array import beampattern
from isac_ae.autoencoder import Autoencoder, AutoencoderSystem, Trainer, TrainingConfig, TrainingError
from isac_ae.autoencoder.model import OMEGA_FEATURES, SECTOR_FEATURES, condition_inputs
from isac_ae.autoencoder.modelfile import ModelFileError, load_model
from isac_ae.autoencoder.sectors import SectorChannels, SectorDistribution
from isac_ae.autoencoder.sweep import CONDITIONED_NAME, write_sweep
from isac_ae.channels import Beamformed, Channels
from isac_ae.cli import main
from isac_ae.pretrained import sweep_dir

PAPER = Scenario()
ELSEWHERE = PAPER.replace(target_sector_deg=(0.0, 30.0), comm_sector_deg=(-50.0, -30.0))


def test_the_drawn_sectors_have_the_distributions_widths_inside_its_span(generator):
    distribution = SectorDistribution()
    sectors = torch.rad2deg(distribution.draw(20_000, generator).double())
    span = distribution.span_deg + 1e-4
    assert sectors.min() >= -span and sectors.max() <= span
    for i, (low, high) in enumerate((distribution.target_width_deg, distribution.comm_width_deg)):
        width = sectors[:, 2 * i + 1] - sectors[:, 2 * i]
        assert width.min() >= low - 1e-4 and width.max() <= high + 1e-4
        # uniform widths: the mean within 4 standard errors of (low + high) / 2
        assert abs(float(width.mean()) - (low + high) / 2) < 4 * (high - low) / math.sqrt(12 * len(width))
    assert distribution.contains(PAPER) and distribution.contains(ELSEWHERE)
    assert not distribution.contains(PAPER.replace(target_sector_deg=(-40.0, 40.0)))  # wider than drawn
    assert not distribution.contains(PAPER.replace(comm_sector_deg=(55.0, 70.0)))  # beyond the span
    with pytest.raises(ValueError, match="span"):
        SectorDistribution(target_width_deg=(10.0, 50.0), span_deg=100.0)


def _beamformed(generator, conditions=1, n=4096, k=16):
    symbols = torch.randn(conditions, n, dtype=torch.complex64, generator=generator)
    beam = torch.randn(conditions, k, dtype=torch.complex64, generator=generator)
    return Beamformed(symbols, beam)


def test_at_the_scenarios_own_sectors_the_sector_channels_are_the_simulated_ones(generator):
    """Same generator state, same draws: eq. (1) and (2) as the simulated channels compute them."""
    sc = PAPER.replace(spacing_std=0.05, impairment_seed=4)  # impaired positions: the true ones are used
    y = _beamformed(generator)
    sectors = torch.as_tensor(sc.theta_vector, dtype=torch.float32)[None]
    channels, mine = Channels.simulated(sc), SectorChannels(sc)
    state = generator.get_state()
    expected = channels.radar.draw_grouped(y, generator)
    generator.set_state(state)
    got = mine.radar_grouped(y, sectors, generator)
    torch.testing.assert_close(got.theta[0], expected.theta, atol=1e-6, rtol=0)
    assert torch.equal(got.target, expected.target)
    torch.testing.assert_close(got.z, expected.z, atol=1e-4, rtol=1e-4)
    state = generator.get_state()
    expected = channels.comm(y, generator)
    generator.set_state(state)
    got = mine.comm(y, sectors, generator)
    torch.testing.assert_close(got.vartheta[0], expected.vartheta, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.z, expected.z, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.kappa, expected.kappa, atol=1e-4, rtol=1e-4)


def test_each_condition_draws_its_angles_in_its_own_sectors(generator):
    sectors = SectorDistribution().draw(6, generator)
    y = _beamformed(generator, conditions=6)
    radar = SectorChannels(PAPER).radar_grouped(y, sectors, generator)
    comm = SectorChannels(PAPER).comm(y, sectors, generator)
    for angles, low, high in (
        (radar.theta, sectors[:, 0], sectors[:, 1]),
        (comm.vartheta, sectors[:, 2], sectors[:, 3]),
    ):
        assert angles.shape == (6, 4096)
        assert torch.all(angles >= low[:, None] - 1e-6) and torch.all(angles <= high[:, None] + 1e-6)
        # the whole sector is covered: the extreme draws of 4096 uniforms lie within 0.2 % of its ends
        assert torch.all(angles.min(-1).values - low < 0.002 * (high - low))
        assert torch.all(high - angles.max(-1).values < 0.002 * (high - low))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(5)
    return Autoencoder(16, 4, conditions=OMEGA_FEATURES + SECTOR_FEATURES, hidden_scale=2).eval()


def test_the_system_at_a_scenarios_sectors_is_a_forward_pass_at_them(model, generator):
    """No hidden state: a batch of (omega_r, sectors) gives row by row what the system at each gives."""
    assert model.sector_conditioned
    scenarios = [PAPER, ELSEWHERE, PAPER.replace(target_sector_deg=(-60.0, -10.0))]
    omegas = torch.tensor([0.09, 0.5, 0.0])
    sectors = torch.stack([torch.as_tensor(s.theta_vector, dtype=torch.float32) for s in scenarios])
    condition = condition_inputs(omegas, sectors)
    z = torch.randn(1, 64, 16, dtype=torch.complex64, generator=generator)
    with torch.no_grad():
        points, beams = model.transmitter(sectors, condition)
        logits = model.radar(z.expand(3, -1, -1), condition)[0]
        for i, sc in enumerate(scenarios):
            system = AutoencoderSystem(model, sc, omega=float(omegas[i]))
            torch.testing.assert_close(system.beam, beams[i])
            torch.testing.assert_close(system.constellation, points[i])
            torch.testing.assert_close(system.radar_receive(z[0])[0], logits[i])
    assert not torch.allclose(beams[0], beams[1]), "the sectors must reach the beamformer"


def test_a_sector_conditioned_run_needs_a_conditioned_one_on_the_simulated_channels():
    with pytest.raises(TrainingError, match="conditioned > 0"):
        TrainingConfig(omegas=(0.09,), sector_conditioned=True)
    config = TrainingConfig(omegas=(0.0, 1.0), conditioned=2, sector_conditioned=True)
    with pytest.raises(TrainingError, match="simulated channels"):
        Trainer(PAPER, config, channels=Channels.simulated(PAPER))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny sector-conditioned run written as a model file."""
    config = TrainingConfig(
        omegas=(0.0, 1.0), conditioned=3, sector_conditioned=True, samples_per_stage=2000, batch_size=1000
    )
    trainer = Trainer(PAPER, config)
    trainer.run()
    (path,) = write_sweep(trainer, tmp_path_factory.mktemp("models") / "sectors")
    return trainer, path


def test_the_model_file_records_the_sector_inputs_and_reloads_the_same_weights(trained):
    trainer, path = trained
    loaded = load_model(path)
    assert loaded.sector_conditioned
    conditioning = loaded.metadata["conditioning"]
    assert conditioning["inputs"] == ["omega_r", "target_sector", "comm_sector"]
    assert conditioning["features"] == OMEGA_FEATURES + SECTOR_FEATURES
    assert SectorDistribution.from_dict(conditioning["sector_distribution"]) == SectorDistribution()
    for name, tensor in trainer.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor)


def test_a_model_file_with_unknown_conditioning_inputs_is_refused(trained, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    _, path = trained
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["isac_ae"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header["conditioning"]["inputs"] = ["omega_r", "target_sector"]
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata={"isac_ae": json.dumps(header)})
    with pytest.raises(ModelFileError, match="unsupported conditioning"):
        load_model(bad)


def test_the_cli_evaluates_a_sector_model_at_chosen_sectors_and_refuses_others_there(trained, capsys):
    _, path = trained
    args = ["evaluate", str(path), "--samples", "2000", "--json", "--target-sector-deg", "0", "30"]
    assert main(args + ["--comm-sector-deg", "-50", "-30"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["target_sector_deg"] == [0.0, 30.0] and result["comm_sector_deg"] == [-50.0, -30.0]
    assert result["scenario"]["target_sector_deg"] == [0.0, 30.0]
    assert main(args[:-3] + ["--target-sector-deg", "-50", "50"]) == 0  # wider than trained: said, not refused
    assert "outside those" in capsys.readouterr().err
    assert main(["evaluate", str(path), "--samples", "2000", "--snr-radar-db", "3"]) == 2  # another SNR
    assert "another scenario" in capsys.readouterr().err


def test_a_model_for_fixed_sectors_refuses_others(tmp_path, capsys):
    config = TrainingConfig(omegas=(0.09,), samples_per_stage=1000, batch_size=1000)
    trainer = Trainer(PAPER, config)
    trainer.run()
    (path,) = write_sweep(trainer, tmp_path)
    assert main(["evaluate", str(path), "--samples", "2000", "--target-sector-deg", "0", "30"]) == 2
    assert "only a sector-conditioned model" in capsys.readouterr().err


@pytest.fixture(scope="module")
def shipped():
    return load_model(sweep_dir("sectors") / CONDITIONED_NAME)


@pytest.mark.parametrize(
    ("target", "comm"), [((-20.0, 20.0), (30.0, 50.0)), ((0.0, 30.0), (-50.0, -30.0)), ((-50.0, -20.0), (10.0, 30.0))]
)
def test_the_shipped_model_points_its_beam_into_the_sectors_it_is_given(shipped, target, comm):
    """Radar only (omega_r = 1), the beam's mean gain |a(phi)^T v|^2 over the target sector is more than twice its
    mean over the rest of the half-space; comm only (omega_r = 0), over the comm sector: the sectors steer the
    beam, at pairs the model never trained on exactly."""
    sc = shipped.scenario.replace(target_sector_deg=target, comm_sector_deg=comm)
    grid = np.radians(np.linspace(-90.0, 90.0, 721))
    for omega, (low, high) in ((1.0, target), (0.0, comm)):
        with torch.no_grad():
            v = AutoencoderSystem(shipped.model, sc, omega=omega).beam.numpy()
        gain = beampattern(sc.true_positions(), v, grid)
        inside = (grid >= math.radians(low)) & (grid <= math.radians(high))
        assert gain[inside].mean() > 2 * gain[~inside].mean(), (omega, low, high)
