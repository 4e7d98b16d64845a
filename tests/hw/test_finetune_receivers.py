"""Fine-tuning method (b) on the Quad-MxFE twin: the shipped nominal model's receivers fine-tuned on labelled
SigMF captures taken through pyadi-iio and the emulator with its own transmitter; the result lowers J_ISAC on
held-out draws of the twin's true channels by more than their sampling error; an interrupted run resumes to
the same weights; bad input is refused in one line."""

import copy
import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from isac_ae import Scenario  # noqa: E402
from isac_ae.autoencoder import AutoencoderSystem  # noqa: E402
from isac_ae.autoencoder.modelfile import LoadedModel, load_model  # noqa: E402
from isac_ae.baselines import qam_constellation  # noqa: E402
from isac_ae.channels import Channels  # noqa: E402
from isac_ae.hw.capture import CapturePlan, capture_session, draw_scenes, open_bench, twin_amplitudes  # noqa: E402
from isac_ae.hw.emulator import Emulator  # noqa: E402
from isac_ae.hw.finetune.objective import heldout_terms, isac_terms  # noqa: E402
from isac_ae.hw.finetune.receivers import (  # noqa: E402
    BUDGETS,
    RECEIVERS,
    Snapshots,
    _loss,
    finetune_receivers,
    load_snapshots,
    receiver_objective,
)
from isac_ae.hw.frames import FrameLayout  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402
from isac_ae.pretrained import sweep_dir  # noqa: E402

from ..helpers import Z  # noqa: E402
from .torch_threads import one_thread  # noqa: E402, F401

DEVICE, K, TWIN_SEED, CAPTURE_SEED = "quadmxfe", 16, 0, 2
CAPTURES, LAYOUT = 48, FrameLayout(data=256)  # many short scenes: the receivers learn from angles, not snapshots
#: The scene whose comm channel is silenced (amplitude 0: the comm receiver loses its frame, as in the deepest
#: fade); it has a target, so its radar items teach the angle receivers.
LOST = 2
LOST_NAME = f"capture_{LOST:06d}.sigmf-meta"
HELD_OUT_DRAWS = 50_000


def _capture(out, plan: CapturePlan, device: str = DEVICE, twin_seed: int = TWIN_SEED):
    twin = DigitalTwin(device, twin_seed)
    with Emulator(device, 0, source=twin.source(), comm_receiver=True) as emulator:
        return capture_session(out, plan, lambda: open_bench(device, emulator.uris[0]), retries=0)


def _plan(loaded: LoadedModel, count: int) -> CapturePlan:
    """``count`` scenes of the model's scenario at its SNRs on the twin, sent with the model's transmitter; scene
    :data:`LOST` without its comm channel."""
    sc = loaded.scenario
    system = AutoencoderSystem(loaded.model, sc)
    amplitudes = twin_amplitudes(sc, LAYOUT, DigitalTwin(DEVICE, TWIN_SEED).truth.noise_power)
    scenes = list(draw_scenes(sc, count, CAPTURE_SEED, *amplitudes))
    assert scenes[LOST].targets
    scenes[LOST] = dataclasses.replace(scenes[LOST], comm_amplitude=0.0)
    beam, points = system.beam.numpy(), system.constellation.numpy()
    return CapturePlan(DEVICE, sc, scenes, beam, points, CAPTURE_SEED, LAYOUT)


@pytest.fixture(scope="module")
def nominal() -> LoadedModel:
    return load_model(sweep_dir("nominal") / "omega_0.09.safetensors")


@pytest.fixture(scope="module")
def captures(nominal, tmp_path_factory):
    out = tmp_path_factory.mktemp("captures")
    _capture(out, _plan(nominal, CAPTURES))
    return out


@pytest.fixture(scope="module")
def tuned(nominal, captures):
    return finetune_receivers(nominal, captures, DEVICE, budget="quick", seed=1)


def test_fine_tuned_receivers_lower_j_isac_on_held_out_twin_draws(nominal, captures, tuned):
    model, meta = tuned
    sc, omega = nominal.scenario, nominal.omega
    twin = DigitalTwin(DEVICE, TWIN_SEED)
    channels = Channels(twin.radar_channel(sc), twin.comm_channel(sc))
    # Common random numbers: both models on the same messages, targets, angles, gains and noise.
    before = heldout_terms(nominal.model, sc, omega, channels, HELD_OUT_DRAWS, seed=11)
    after = heldout_terms(model, sc, omega, channels, HELD_OUT_DRAWS, seed=11)
    gain = before - after
    assert gain.mean() > Z * gain.std() / np.sqrt(HELD_OUT_DRAWS)

    # The transmitter is the one the captures were taken with; only the receivers moved.
    reference = nominal.model.state_dict()
    moved = {name.split(".")[0] for name, w in model.state_dict().items() if not torch.equal(w, reference[name])}
    assert moved == set(RECEIVERS)

    # Split by recording: disjoint, complete, both sets with and without targets; the snapshots counted: the
    # recording whose comm frame was lost gives its radar items and no comm ones.
    files = sorted(p.name for p in captures.glob("*.sigmf-meta"))
    train, held = meta["captures"]["train"], meta["captures"]["held_out"]
    assert sorted(train + held) == files and not set(train) & set(held)
    lost = set(meta["captures"]["comm_lost"])  # the silenced scene's, and the twin's own deep fades (a few)
    assert len(held) == len(files) // 4 and LOST_NAME in lost and len(lost) < CAPTURES // 10
    for names in (train, held):
        presence = {bool(json.loads((captures / n).read_text())["global"]["isac_ae:scene"]["targets"]) for n in names}
        assert presence == {True, False}
    assert meta["snapshots"] == {"train": len(train) * LAYOUT.data, "held_out": len(held) * LAYOUT.data}
    assert meta["comm_snapshots"] == {
        "train": len(set(train) - lost) * LAYOUT.data,
        "held_out": len(set(held) - lost) * LAYOUT.data,
    }
    assert meta["method"] == "receivers" and meta["device"] == DEVICE and meta["omega"] == omega
    assert meta["held_out_loss"]["fine_tuned"] < meta["held_out_loss"]["nominal"]
    assert 0 < meta["steps"] <= BUDGETS["quick"].steps and meta["seconds"] > 0
    json.dumps(meta)  # recordable in a model file


def test_a_lost_comm_frame_gives_its_radar_terms_and_no_comm_terms(nominal, captures):
    """The receivers' J_ISAC against :func:`isac_terms`: the same where every comm frame was decoded; with a lost
    one, its radar terms count and its comm terms do not (its NaN kappa would make the loss and gradients NaN)."""
    model, omega, sc = copy.deepcopy(nominal.model), nominal.omega, nominal.scenario
    decoded = load_snapshots(captures / "capture_000000.sigmf-meta", DEVICE, sc.num_antennas)
    lost = load_snapshots(captures / LOST_NAME, DEVICE, sc.num_antennas)
    assert decoded.decoded.all() and not lost.decoded.any() and lost.target.all()
    assert torch.isnan(lost.kappa).all() and torch.isfinite(lost.z).all()
    both = Snapshots.joined([decoded, lost])
    # isac_terms at omega_r = 1 is the radar term alone; finite stand-ins for the lost comm inputs weigh 0 there.
    stand_ins = Snapshots(
        both.z, both.target, both.theta, torch.zeros_like(both.z_comm), torch.ones_like(both.kappa), both.messages
    )
    expected = omega * isac_terms(model, 1.0, *stand_ins).mean() + (1 - omega) * isac_terms(model, 0.0, *decoded).mean()
    loss = receiver_objective(model, omega, both)
    # float32 sums of 2 x 256 terms taken in another order: a few ulps apart
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-5)
    assert math.isclose(_loss(model, omega, both), expected.item(), rel_tol=1e-5)
    alone = isac_terms(model, omega, *decoded).mean().item()
    assert math.isclose(receiver_objective(model, omega, decoded).item(), alone, rel_tol=1e-5)
    loss.backward()
    for name in RECEIVERS:
        assert all(torch.isfinite(p.grad).all() for p in model.network(name).parameters()), name


class _Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(nominal, captures, tuned, tmp_path):
    checkpoint = tmp_path / "receivers.pt"
    checks = []

    def stop_at_second_check(report):
        checks.append(report.step)
        if len(checks) == 2:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        finetune_receivers(nominal, captures, DEVICE, seed=1, checkpoint=checkpoint, progress=stop_at_second_check)
    resumed_steps = []
    model, meta = finetune_receivers(
        nominal, captures, DEVICE, seed=1, checkpoint=checkpoint, progress=lambda r: resumed_steps.append(r.step)
    )
    assert resumed_steps[0] == checks[1] + BUDGETS["quick"].check_every  # it went on, it did not start over
    reference, reference_meta = tuned
    for name, weight in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], weight), name
    assert meta["steps"] == reference_meta["steps"] and meta["held_out_loss"] == reference_meta["held_out_loss"]
    # Another run's checkpoint (another seed: another split and other batches) is refused.
    with pytest.raises(ValueError, match="belongs to another fine-tuning run"):
        finetune_receivers(nominal, captures, DEVICE, seed=2, checkpoint=checkpoint)


def test_bad_input_is_refused_in_one_line(nominal, captures, tmp_path):
    def refused(match, *args, **kwargs):
        with pytest.raises(ValueError, match=match) as info:
            finetune_receivers(*args, **kwargs)
        assert "\n" not in str(info.value)

    (tmp_path / "empty").mkdir()
    refused("no captures in", nominal, tmp_path / "empty", DEVICE)
    refused("does not exist", nominal, tmp_path / "nowhere", DEVICE)
    refused("budget must be one of", nominal, captures, DEVICE, budget="slow")

    # Captures of another device and K (a 2R2T Pluto, a broadside beam, 4-QAM).
    pluto_sc = Scenario(num_antennas=2)
    beam = np.full(2, 2**-0.5)
    scenes = draw_scenes(pluto_sc, 1, 0, *twin_amplitudes(pluto_sc, LAYOUT, 1e-5))
    pluto = tmp_path / "pluto"
    _capture(pluto, CapturePlan("pluto2", pluto_sc, scenes, beam, qam_constellation(4), 0, LAYOUT), "pluto2", 3)
    refused("is a capture of pluto2 with K = 2, not of the quadmxfe with the model's K = 16", nominal, pluto, DEVICE)

    # A model for another device's K, a device that cannot run the loop, a model of another scenario, a model
    # whose transmitter is not the one the captures were taken with.
    refused("the fmcomms5 profile has K = 4", nominal, captures, "fmcomms5")
    refused("cannot run a live ISAC loop", nominal, captures, "phaser")
    other_sc = LoadedModel(nominal.model, nominal.scenario.replace(snr_radar_db=5.0), nominal.metadata, nominal.path)
    refused(r"another scenario than the model's \(snr_radar_db: captures 0.0, model 5.0\)", other_sc, captures, DEVICE)
    other_tx = load_model(sweep_dir("nominal") / "omega_0.4.safetensors")
    refused("captured with another beam than this model's transmitter", other_tx, captures, DEVICE)

    # One recording cannot be split into a training and a held-out set; one taken with a calibration is not
    # what the receivers of a model file see.
    single = tmp_path / "single"
    single.mkdir()
    for path in captures.glob("capture_000000.*"):
        shutil.copy(path, single / path.name)
    refused("1 capture[(]s[)] cannot be split", nominal, single, DEVICE)
    meta = single / "capture_000000.sigmf-meta"
    recording = json.loads(meta.read_text())
    recording["global"]["isac_ae:calibration"] = {"method": "boresight"}
    meta.write_text(json.dumps(recording))
    refused("captured with a calibration", nominal, single, DEVICE)

    # Recordings none of whose comm frames were decoded (a comm receiver off or mistuned) cannot train it.
    silent = tmp_path / "silent"
    silent.mkdir()
    for path in captures.glob(f"{LOST_NAME.split('.')[0]}.*"):
        shutil.copy(path, silent / path.name)
    refused("no recording in .* has a decoded comm frame", nominal, silent, DEVICE)
