"""Fine-tuning method (c), model-free transmitter training: the estimates of the gradient agree with the true
gradient through the Quad-MxFE twin's differentiable channels; the quick budget lowers the shipped nominal
model's J_ISAC on held-out draws of the twin's true channels, and its transmitter part adds to what the
receivers alone reach; over the air (a Pluto twin behind the emulator, through pyadi-iio) the method runs the
same code: given the same received snapshots it ends with the same weights, and the losses it learns from
agree with the in-process twin's; an interrupted run resumes to the same weights; bad input is refused."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.autoencoder.modelfile import LoadedModel, load_model
from isac_ae.channels import Beamformed, Channels
from isac_ae.hw.finetune.model_free import (
    BUDGETS,
    Perturbations,
    finetune_model_free,
    generators,
    perturbed,
    snapshot_terms,
    surrogate,
    unit_transmitter,
)
from isac_ae.hw.finetune.objective import heldout_terms, isac_terms
from isac_ae.hw.twin import DigitalTwin
from isac_ae.pretrained import sweep_dir

from ..helpers import Z
from .torch_threads import one_thread  # noqa: F401

OMEGA = 0.09
HELD_OUT = 20_000  # snapshots of the held-out J_ISAC set


@pytest.fixture(scope="module")
def nominal() -> LoadedModel:
    return load_model(sweep_dir("nominal") / f"omega_{OMEGA}.safetensors")


@pytest.fixture(scope="module")
def twin() -> DigitalTwin:
    return DigitalTwin("quadmxfe", seed=0)


def _channels(twin: DigitalTwin, scenario: Scenario) -> Channels:
    return Channels(twin.radar_channel(scenario), twin.comm_channel(scenario))


def _flat(gradients) -> np.ndarray:
    return torch.cat([torch.view_as_real(g).flatten() for g in gradients]).double().numpy()


def test_the_estimates_agree_with_the_true_gradient_through_the_twin(nominal, twin):
    """The twin's channels are differentiable, so the gradient of E[J_ISAC] in the unit constellation and beam
    has a pathwise estimate through them, for the same perturbations (the reparameterised policy): both it and
    the model-free estimate (which sees only the loss values) are unbiased for the same gradient, so over S
    independent steps their paired differences have mean zero, coordinate by coordinate within Z standard
    errors; and the model-free estimate points the true way: its projection on the pathwise mean's direction is
    positive by more than Z of its standard errors."""
    scenario, model = nominal.scenario, nominal.model
    plan = BUDGETS["quick"]
    constellation, beam, scale = unit_transmitter(model, torch.tensor(scenario.theta_vector).float())
    constellation, beam = constellation.detach(), beam.detach()
    radar, comm = twin.radar_channel(scenario), twin.comm_channel(scenario)
    policy, generator = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    steps, block = 100, 1024
    model_free_estimates, pathwise = [], []
    for _ in range(steps):
        draws = Perturbations.draw(policy, plan.pairs, block, scenario.num_antennas, scenario.num_messages)
        c, u = constellation.clone().requires_grad_(), beam.clone().requires_grad_()
        beams, symbols = perturbed(c, u, draws, plan, scale)
        terms, targets = [], []
        for j in range(2 * plan.pairs):
            y = Beamformed(symbols[j], beams[j])
            rd, cd = radar(y, generator), comm(y, generator)
            terms.append(isac_terms(model, OMEGA, rd.z, rd.target, rd.theta, cd.z, cd.kappa, draws.messages[j]))
            targets.append(rd.target)
        terms = torch.stack(terms)
        pathwise.append(_flat(torch.autograd.grad(terms.mean(), (c, u))))
        estimate, _ = surrogate(c, u, draws, plan, terms.detach(), torch.stack(targets))
        model_free_estimates.append(_flat(torch.autograd.grad(estimate, (c, u))))
    estimates, pathwise = np.array(model_free_estimates), np.array(pathwise)
    m = scenario.num_messages
    for name, part in (("constellation", slice(0, 2 * m)), ("beam", slice(2 * m, None))):
        a, b = estimates[:, part], pathwise[:, part]
        difference = a - b
        se = difference.std(0, ddof=1) / math.sqrt(steps)
        assert np.all(np.abs(difference.mean(0)) <= Z * se), name
        direction = b.mean(0) / np.linalg.norm(b.mean(0))
        projection = a @ direction
        assert projection.mean() > Z * projection.std(ddof=1) / math.sqrt(steps), name


@pytest.fixture(scope="module")
def quick(nominal, twin):
    """The quick budget through the twin's channels in process: (model, metadata, progress reports)."""
    reports = []
    model, metadata = finetune_model_free(
        nominal, _channels(twin, nominal.scenario), seed=0, progress=reports.append, device="quadmxfe"
    )
    return model, metadata, reports


def test_model_free_finetuning_lowers_j_isac_on_the_twin(nominal, twin, quick):
    tuned, metadata, reports = quick
    plan, block = BUDGETS["quick"], 1024
    assert [r.step for r in reports] == list(range(1, plan.steps + 1))
    assert metadata["method"] == "model-free" and metadata["device"] == "quadmxfe"
    assert metadata["channel_calls"] == plan.steps * 2 * plan.pairs == reports[-1].calls
    assert metadata["snapshots"] == metadata["channel_calls"] * block == reports[-1].snapshots
    # Held out: fresh draws of the twin's channels, the same for both models (common random numbers); the
    # improvement must exceed Z standard errors of the mean paired difference.
    channels = _channels(twin, nominal.scenario)
    before = heldout_terms(nominal.model, nominal.scenario, OMEGA, channels, HELD_OUT, seed=11)
    after = heldout_terms(tuned, nominal.scenario, OMEGA, channels, HELD_OUT, seed=11)
    gain = before - after
    margin = Z * gain.std(ddof=1) / math.sqrt(HELD_OUT)
    assert gain.mean() > margin, f"J_ISAC {before.mean():.4f} -> {after.mean():.4f}, margin {margin:.4f}"


def test_the_transmitter_part_adds_to_what_the_receivers_reach(nominal, twin, quick, monkeypatch):
    """The same run (seed, perturbations, channel draws) with the transmitter's step size at zero trains the
    receivers alone: the full method must end lower on the held-out set by more than Z standard errors."""
    tuned, _, _ = quick
    monkeypatch.setitem(BUDGETS, "quick", dataclasses.replace(BUDGETS["quick"], transmitter_learning_rate=0.0))
    receivers_only, _ = finetune_model_free(nominal, _channels(twin, nominal.scenario), seed=0)
    for name in ("encoder", "beamformer"):  # the transmitter did not move
        for got, want in zip(receivers_only.network(name).parameters(), nominal.model.network(name).parameters()):
            assert torch.equal(got, want)
    channels = _channels(twin, nominal.scenario)
    alone = heldout_terms(receivers_only, nominal.scenario, OMEGA, channels, HELD_OUT, seed=12)
    both = heldout_terms(tuned, nominal.scenario, OMEGA, channels, HELD_OUT, seed=12)
    gain = alone - both
    margin = Z * gain.std(ddof=1) / math.sqrt(HELD_OUT)
    assert gain.mean() > margin, f"J_ISAC receivers only {alone.mean():.4f}, with the transmitter {both.mean():.4f}"


class _Recorder:
    """Channels that pass through ``channels`` and record what was sent and what came back."""

    def __init__(self, channels: Channels):
        self.inner = channels
        self.scenario = channels.radar.scenario
        self.sent, self.radar_draws, self.comm_draws = [], [], []

    def channels(self) -> Channels:
        return Channels(radar=self, comm=self._comm)

    def __call__(self, y, generator, target=None):
        self.sent.append((y.symbols.clone(), y.beam.clone()))
        self.radar_draws.append(self.inner.radar(y, generator, target))
        return self.radar_draws[-1]

    def _comm(self, y, generator):
        self.comm_draws.append(self.inner.comm(y, generator))
        return self.comm_draws[-1]


class _Replay:
    """Channels that return a recording's draws in order, checking that the signal asked for is the one sent."""

    def __init__(self, recording: _Recorder):
        self.scenario = recording.scenario
        self.recording = recording
        self.calls = 0

    def channels(self) -> Channels:
        return Channels(radar=self, comm=self._comm)

    def __call__(self, y, generator, target=None):
        symbols, beam = self.recording.sent[self.calls]
        assert torch.equal(y.symbols, symbols) and torch.equal(y.beam, beam), f"call {self.calls} sends otherwise"
        return self.recording.radar_draws[self.calls]

    def _comm(self, y, generator):
        self.calls += 1
        return self.recording.comm_draws[self.calls - 1]


PLUTO_PAIRS, PLUTO_BLOCK, SCENE = 4, 1024, 64  # 16 scenes per call: the comm loss varies by scene (block fading)


@pytest.fixture(scope="module")
def over_the_air():
    """Two steps of the K = 2 model through a Pluto twin behind the emulator (pyadi-iio, OverTheAirLink with
    scenes of SCENE snapshots) and through the same twin in process, both recorded."""
    pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")
    from isac_ae.hw.device import CommReceiver, Transceiver
    from isac_ae.hw.emulator import Emulator
    from isac_ae.hw.link import OverTheAirLink
    from isac_ae.hw.scene import EmulatorSceneController

    loaded = load_model(sweep_dir("pluto2") / f"omega_{OMEGA}.safetensors")
    scenario, twin = loaded.scenario, DigitalTwin("pluto2", seed=3)
    budget = dataclasses.replace(BUDGETS["quick"], steps=2, pairs=PLUTO_PAIRS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(BUDGETS, "quick", budget)
        with Emulator("pluto2", 0, source=twin.source(), comm_receiver=True) as emulator:
            board = Transceiver("pluto2", emulator.uris[0])
            comm = CommReceiver(emulator.uris[1], 2.4e9, 2.5e6)
            try:
                link = OverTheAirLink(scenario, board, comm, EmulatorSceneController(emulator.uris), block=SCENE)
                air = _Recorder(link.channels())
                air_model, air_metadata = finetune_model_free(loaded, air.channels(), seed=0, block=PLUTO_BLOCK)
            finally:
                board.close()
                comm.close()
        here = _Recorder(_channels(twin, scenario))
        finetune_model_free(loaded, here.channels(), seed=0, block=PLUTO_BLOCK)
        replay = _Replay(air)
        replayed, replayed_metadata = finetune_model_free(loaded, replay.channels(), seed=0, block=PLUTO_BLOCK)
    assert link.stats.snapshots == air_metadata["snapshots"] == 2 * 2 * PLUTO_PAIRS * PLUTO_BLOCK
    return loaded, air, here, (air_model, air_metadata), (replayed, replayed_metadata, replay.calls)


def test_over_the_air_and_in_process_run_the_same_method(over_the_air):
    """Over the air the channel adds its own noise, so 'the same' means: the first step sends exactly what the
    in-process run sends (the policy's draws are the method's, not the channel's), and the same received
    snapshots give exactly the same weights (the update is a function of what the receivers saw)."""
    _, air, here, (air_model, air_metadata), (replayed, replayed_metadata, calls) = over_the_air
    first = 2 * PLUTO_PAIRS
    for (a_symbols, a_beam), (h_symbols, h_beam) in zip(air.sent[:first], here.sent[:first]):
        assert torch.equal(a_symbols, h_symbols) and torch.equal(a_beam, h_beam)
    assert calls == len(air.sent) == 2 * first
    for name, value in air_model.state_dict().items():
        assert torch.equal(value, replayed.state_dict()[name]), name
    assert {k: v for k, v in air_metadata.items() if k != "seconds"} == {
        k: v for k, v in replayed_metadata.items() if k != "seconds"
    }


def test_over_the_air_losses_agree_with_the_in_process_twin(over_the_air):
    """What the estimator learns from, the per-snapshot J_ISAC of the nominal receivers on the first step's
    transmissions (identical both ways), has the same mean over the air as through the twin in process. Over
    the air the snapshots of a scene share its target and comm fading, so the standard error is over scene
    means; in process every snapshot is its own draw."""
    loaded, air, here, _, _ = over_the_air
    first = 2 * PLUTO_PAIRS
    policy, _ = generators(0)
    messages = Perturbations.draw(policy, PLUTO_PAIRS, PLUTO_BLOCK, 2, loaded.scenario.num_messages).messages

    def terms(recording: _Recorder) -> np.ndarray:
        with torch.no_grad():
            return np.stack(
                [
                    snapshot_terms(loaded.model, OMEGA, rd.z, rd.target, rd.theta, cd.z, cd.kappa, messages[j])
                    .double()
                    .numpy()
                    for j, (rd, cd) in enumerate(zip(recording.radar_draws[:first], recording.comm_draws[:first]))
                ]
            )

    on_air, in_process = terms(air), terms(here)
    scenes = on_air.reshape(-1, SCENE).mean(-1)
    se = math.hypot(scenes.std(ddof=1) / math.sqrt(scenes.size), in_process.std(ddof=1) / math.sqrt(in_process.size))
    assert abs(on_air.mean() - in_process.mean()) < Z * se, f"{on_air.mean():.4f} vs {in_process.mean():.4f}"


def test_a_lost_comm_frame_counts_as_a_uniform_guess(nominal):
    scenario, generator = nominal.scenario, torch.Generator().manual_seed(5)
    n = 64
    z = torch.randn(n, scenario.num_antennas, dtype=torch.complex64, generator=generator)
    target, theta = torch.arange(n) % 2 == 0, torch.full((n,), 0.1)
    z_comm = torch.randn(n, dtype=torch.complex64, generator=generator)
    kappa = torch.ones(n, dtype=torch.complex64)
    kappa[::3] = complex(math.nan, math.nan)
    messages = torch.randint(4, (n,), generator=generator)
    with torch.no_grad():
        terms = snapshot_terms(nominal.model, OMEGA, z, target, theta, z_comm, kappa, messages)
        radar = isac_terms(nominal.model, 1.0, z, target, theta, z_comm, torch.ones_like(kappa), messages)
        intact = isac_terms(nominal.model, OMEGA, z, target, theta, z_comm, kappa, messages)
    lost = torch.isnan(kappa)
    torch.testing.assert_close(terms[lost], OMEGA * radar[lost] + (1 - OMEGA) * math.log(4))
    assert torch.equal(terms[~lost], intact[~lost])


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(nominal, twin, tmp_path, monkeypatch):
    monkeypatch.setitem(BUDGETS, "quick", dataclasses.replace(BUDGETS["quick"], steps=4, pairs=2))
    run = dict(seed=1, block=256)
    reference, reference_metadata = finetune_model_free(nominal, _channels(twin, nominal.scenario), **run)

    class Interrupted(Exception):
        pass

    def stop_after_three(report):
        if report.step == 3:
            raise Interrupted

    checkpoint = tmp_path / "mf.pt"
    with pytest.raises(Interrupted):
        finetune_model_free(
            nominal,
            _channels(twin, nominal.scenario),
            checkpoint=checkpoint,
            checkpoint_every=2,
            progress=stop_after_three,
            **run,
        )
    steps = []
    resumed, metadata = finetune_model_free(
        nominal,
        _channels(twin, nominal.scenario),
        checkpoint=checkpoint,
        checkpoint_every=2,
        progress=steps.append,
        **run,
    )
    assert [r.step for r in steps] == [3, 4]  # from the checkpoint at step 2
    for name, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    assert metadata["snapshots"] == reference_metadata["snapshots"] == 4 * 2 * 2 * 256
    with pytest.raises(ValueError, match="belongs to another fine-tuning run"):
        finetune_model_free(nominal, _channels(twin, nominal.scenario), checkpoint=checkpoint, seed=2, block=256)


def test_bad_input_is_refused_with_a_clear_message(nominal):
    pluto = Scenario(num_antennas=2)
    pluto_channels = _channels(DigitalTwin("pluto2", seed=0), pluto)
    with pytest.raises(ValueError, match="the model has K = 16 elements; the channels' scenario has K = 2"):
        finetune_model_free(nominal, pluto_channels)
    other = Scenario(snr_radar_db=3.0)
    with pytest.raises(ValueError, match="another scenario than the channels' .snr_radar_db: model 0.0, channels 3.0"):
        finetune_model_free(nominal, Channels.simulated(other))
    channels = Channels.simulated(nominal.scenario)
    with pytest.raises(ValueError, match="budget must be one of"):
        finetune_model_free(nominal, channels, budget="paper")
    with pytest.raises(ValueError, match="block must be an integer number of snapshots per call"):
        finetune_model_free(nominal, channels, block=1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        finetune_model_free(nominal, channels, seed=-1)
