"""Fine-tuning method (b): the receivers on labelled captures, the transmitter frozen.

A nominal model's transmitter (beam and constellation) is what the board sent
when the captures were taken (``isac-ae hw capture --model``: every
recording holds the beam, the constellation and the messages), so it stays
as it is; the radar receivers (presence detector, angle and uncertainty
estimators) and the comm receiver learn the board's impairments from the
recorded snapshots and their labels (target present, its angle, the
messages) on the paper's ISAC loss J_ISAC = omega_r J_NLL + (1 - omega_r) J_CE
(eqs. (6)-(8)) with the model's omega_r; the comm receiver sees each frame's
own CSI estimate from its pilots, as over the air. A recording whose comm
frame was lost in a deep fade (:attr:`~isac_ae.hw.capture.Capture.comm_lost`)
gives its radar snapshots and no comm ones: J_ISAC is then omega_r times the
mean radar term over every snapshot plus (1 - omega_r) times the mean comm
term over the snapshots whose comm frame was decoded.

The recordings are split into a training and a held-out set by file, not by
snapshot: the snapshots of one recording share its scene (one target angle,
one comm fading draw), so held-out snapshots of a training scene would not
tell how the receivers do on a scene they have not seen. The split keeps the
share of scenes with a target in both sets. Training stops early when the
held-out loss has not improved for ``patience`` checks, and the weights of
the best check are returned (the nominal ones if none beat them).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch

from ...autoencoder.losses import comm_loss, isac_loss, radar_nll
from ...autoencoder.model import TRANSMITTER, Autoencoder
from ...autoencoder.modelfile import LoadedModel
from ...autoencoder.system import AutoencoderSystem
from ...scenario import Scenario, ScenarioError
from ..capture import NS, CaptureError, captures_in, load_capture
from ..frames import FrameError
from ..profiles import profile as get_profile
from . import checkpoint as checkpoints

METHOD = "receivers"
#: The networks this method trains (the transmitter's stay frozen).
RECEIVERS = ("detector", "angle", "uncertainty", "comm")
_SPLIT_STREAM = 1
#: Largest difference between a recording's beam or constellation and the model's, relative to the largest
#: weight: both are the model's float32 transmitter output, stored exactly as float64.
_TRANSMITTER_TOLERANCE = 1e-5
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ReceiverBudget:
    """How long the receivers train: at most ``steps`` Adam steps of ``batch_size`` snapshots drawn from the
    training set, the held-out loss checked (and a checkpoint written) every ``check_every`` steps, stopping
    after ``patience`` checks without improvement."""

    steps: int
    batch_size: int
    check_every: int
    patience: int
    learning_rate: float


#: "full" fits 30 minutes on a 2-core machine for K = 16 with a few hundred thousand captured snapshots.
BUDGETS = {
    "quick": ReceiverBudget(steps=400, batch_size=2048, check_every=10, patience=5, learning_rate=1e-3),
    "full": ReceiverBudget(steps=20_000, batch_size=4096, check_every=100, patience=10, learning_rate=1e-3),
}


@dataclass
class ReceiverProgress:
    """What a progress display shows at each held-out check (losses are J_ISAC, nats)."""

    step: int
    steps: int
    train_loss: float
    held_out_loss: float
    best_held_out_loss: float
    checks_without_improvement: int


class Snapshots(NamedTuple):
    """Labelled snapshots of a set of recordings, as the receivers take them: z (N, K); target, theta (radians,
    0 without a target), z_comm, kappa (N0 = 1; z_comm 0 and kappa NaN where the comm frame was lost),
    messages (N,)."""

    z: torch.Tensor
    target: torch.Tensor
    theta: torch.Tensor
    z_comm: torch.Tensor
    kappa: torch.Tensor
    messages: torch.Tensor

    def __len__(self) -> int:
        return self.z.shape[0]

    @property
    def decoded(self) -> torch.Tensor:
        """(N,) bool: the snapshots whose comm frame was decoded (finite kappa)."""
        return torch.isfinite(self.kappa)

    def rows(self, index) -> "Snapshots":
        return Snapshots(*(t[index] for t in self))

    @staticmethod
    def joined(parts: list["Snapshots"]) -> "Snapshots":
        return Snapshots(*(torch.cat(column) for column in zip(*parts)))


def finetune_receivers(
    nominal: LoadedModel,
    captures: str | Path,
    device: str,
    *,
    budget: str = "quick",
    held_out: float = 0.25,
    seed: int = 0,
    checkpoint: Optional[str | Path] = None,
    progress: Optional[Callable[[ReceiverProgress], None]] = None,
) -> tuple[Autoencoder, dict]:
    """Fine-tune ``nominal``'s receivers on the recordings in ``captures`` (a directory of
    ``isac-ae hw capture``) taken on ``device`` (a profile name) with this model's transmitter.

    held_out: fraction of the recordings kept for early stopping (at least one
    each way); seed: the split and the training batches; checkpoint: a file
    written at every held-out check, from which a later call with the same
    arguments resumes (and ends with the same weights as an uninterrupted
    run); progress: called at every check. Returns the one-member model and
    the metadata to record in its model file (method, device, the recordings
    used and those whose comm frame was lost, the snapshots (``snapshots``:
    all, each with its radar part; ``comm_snapshots``: those with a decoded
    comm frame), the budget and steps, the held-out losses, the training
    seconds over all calls). A recording whose comm frame was lost in a deep
    fade trains the radar receivers only.

    ValueError (one line) for: an unknown device or one that cannot run the
    ISAC loop; a model of another K than the device; a missing or empty
    directory; recordings of another device, K or scenario than the model,
    taken with another beam or constellation, or with a calibration; too few
    recordings to split; no comm frame decoded in any recording; a checkpoint
    of another run.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {tuple(BUDGETS)}, got {budget!r}")
    if not (isinstance(held_out, float) and 0.0 < held_out < 1.0):
        raise ValueError(f"held_out must be a fraction in (0, 1), got {held_out!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    board = get_profile(device)
    scenario, omega = nominal.scenario, nominal.omega
    board.check_scenario(scenario, "isac")  # the device runs the loop, at the model's K
    paths = recordings(Path(captures))
    beam, constellation = _transmitter(nominal.model, scenario)
    # every recording is checked before any is loaded
    digests = {path.name: _check_recording(path, board.name, scenario, beam, constellation) for path in paths}
    recordings_by_path = {path: load_snapshots(path, board.name, scenario.num_antennas) for path in paths}
    comm_lost = [p.name for p in paths if not recordings_by_path[p].decoded.any()]
    if len(comm_lost) == len(paths):
        raise ValueError(f"no recording in {captures} has a decoded comm frame: is the comm receiver on and tuned?")
    train_paths, held_paths = _split(paths, [bool(recordings_by_path[p].target[0]) for p in paths], held_out, seed)
    train = Snapshots.joined([recordings_by_path[p] for p in train_paths])
    held = Snapshots.joined([recordings_by_path[p] for p in held_paths])

    plan = BUDGETS[budget]
    model = copy.deepcopy(nominal.model).cpu()
    for name in TRANSMITTER:
        model.network(name).requires_grad_(False)
    params = [p for name in RECEIVERS for p in model.network(name).parameters()]
    optimizer = torch.optim.Adam(params, lr=plan.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    run = {
        "nominal": checkpoints.weights_digest(nominal.model),
        "omega": omega,
        "device": board.name,
        "captures": digests,
        "held_out": [p.name for p in held_paths],
        "budget": asdict(plan),
        "seed": seed,
    }
    state = {"step": 0, "since_best": 0, "seconds": 0.0, "best": None, "best_loss": None}
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        state = checkpoints.resume(
            ckpt, run, "model, captures, split, budget or seed", model=model, optimizer=optimizer, generator=generator
        )
    if state["best"] is None:  # the nominal receivers are the first candidate: fine-tuning must beat them
        state["best"], state["best_loss"] = _receiver_state(model), _loss(model, omega, held)
        state["nominal_loss"] = state["best_loss"]

    start = time.perf_counter()
    train_loss = math.nan
    while state["step"] < plan.steps and state["since_best"] < plan.patience:
        batch = train.rows(torch.randint(len(train), (plan.batch_size,), generator=generator))
        loss = receiver_objective(model, omega, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state["step"] += 1
        train_loss = loss.item()
        if state["step"] % plan.check_every and state["step"] < plan.steps:
            continue
        current = _loss(model, omega, held)
        if current < state["best_loss"]:  # a NaN never is: a diverged run keeps its best weights
            state["best"], state["best_loss"], state["since_best"] = _receiver_state(model), current, 0
        else:
            state["since_best"] += 1
        state["seconds"] += time.perf_counter() - start
        start = time.perf_counter()
        if ckpt is not None:
            checkpoints.save(ckpt, run, state, model=model, optimizer=optimizer, generator=generator)
        if progress is not None:
            progress(
                ReceiverProgress(
                    state["step"], plan.steps, train_loss, current, state["best_loss"], state["since_best"]
                )
            )
    state["seconds"] += time.perf_counter() - start
    model.load_state_dict(state["best"], strict=False)
    metadata = {
        "method": METHOD,
        "device": board.name,
        "omega": omega,
        "trained": list(RECEIVERS),
        "captures": {
            "directory": str(Path(captures)),
            "train": [p.name for p in train_paths],
            "held_out": [p.name for p in held_paths],
            "comm_lost": comm_lost,
        },
        "snapshots": {"train": len(train), "held_out": len(held)},
        "comm_snapshots": {"train": int(train.decoded.sum()), "held_out": int(held.decoded.sum())},
        "budget": budget,
        "steps": state["step"],
        "stopped": "early" if state["since_best"] >= plan.patience else "budget",
        "held_out_loss": {"nominal": state["nominal_loss"], "fine_tuned": state["best_loss"]},
        "seconds": state["seconds"],
        "seed": seed,
    }
    return model.eval(), metadata


# --- the recordings ------------------------------------------------------------------------------------


def recordings(directory: Path) -> list[Path]:
    """The recordings in a capture directory, sorted; ValueError for a missing or empty directory."""
    if not directory.is_dir():
        raise ValueError(f"capture directory {directory} does not exist or is not a directory")
    paths = captures_in(directory)
    if not paths:
        raise ValueError(f"no captures in {directory} (isac-ae hw capture records them)")
    return paths


def _transmitter(model: Autoencoder, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The model's beam (K,) and constellation (M,), as a capture session records them."""
    system = AutoencoderSystem(model, scenario)
    return system.beam.cpu().numpy(), system.constellation.cpu().numpy()


def _check_recording(path: Path, device: str, scenario: Scenario, beam, constellation) -> str:
    """The recording's data digest (SHA-512); ValueError unless ``path`` was recorded on ``device`` with this
    model's scenario and transmitter, uncalibrated."""
    try:
        glob = json.loads(path.read_text())["global"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a readable capture: {exc}") from None
    found = (glob.get(NS + "device"), glob.get(NS + "num_antennas"))
    if found != (device, scenario.num_antennas):
        raise ValueError(
            f"{path} is a capture of {found[0]} with K = {found[1]}, not of the {device} with the model's "
            f"K = {scenario.num_antennas}"
        )
    try:
        recorded = Scenario.from_dict(glob.get(NS + "scenario"))
    except (TypeError, ScenarioError) as exc:
        raise ValueError(f"{path}: its scenario cannot be read: {exc}") from None
    there, here = recorded.to_dict(), scenario.to_dict()
    differences = [f"{k}: captures {there[k]!r}, model {here[k]!r}" for k in here if here[k] != there.get(k)]
    if differences:
        raise ValueError(f"{path} was captured for another scenario than the model's ({'; '.join(differences)})")
    for what, value in (("beam", beam), ("constellation", constellation)):
        pairs = np.asarray(glob.get(NS + what, []), dtype=np.float64).reshape(-1, 2)
        sent = pairs[:, 0] + 1j * pairs[:, 1]
        if sent.shape != value.shape or np.max(np.abs(sent - value)) > _TRANSMITTER_TOLERANCE * np.max(np.abs(value)):
            raise ValueError(
                f"{path} was captured with another {what} than this model's transmitter: capture with "
                "this model (isac-ae hw capture --model)"
            )
    if glob.get(NS + "calibration") is not None:
        # The receivers would learn calibrated snapshots, and a model file carries no calibration to apply.
        raise ValueError(f"{path} was captured with a calibration: fine-tune on uncalibrated captures")
    return str(glob.get("core:sha512"))


def _split(paths: list[Path], present: list[bool], fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """(training, held-out) recordings: each class (with / without a target) shuffled, then every
    1/fraction-th recording of the classes in a row held out, so both sets keep the share of targets."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM])
    order = [i for cls in (True, False) for i in rng.permutation([i for i, p in enumerate(present) if p is cls])]
    held = {order[i] for i in range(len(order)) if math.floor((i + 1) * fraction) > math.floor(i * fraction)}
    if not held or len(held) == len(paths):
        raise ValueError(
            f"{len(paths)} capture(s) cannot be split into training and held-out sets with a held-out fraction "
            f"of {fraction:g}: capture more scenes"
        )
    return [p for i, p in enumerate(paths) if i not in held], [p for i, p in enumerate(paths) if i in held]


def load_snapshots(path: Path, device: str, num_antennas: int) -> Snapshots:
    """The labelled snapshots of one recording: the board's z (N0 = 1), the comm symbols with their CSI (z_comm 0
    and kappa NaN where the comm frame was lost). ValueError for a recording of another device or K, a failed
    checksum, or a board frame that cannot be found."""
    try:
        radar, comm, labels = load_capture(path, device, num_antennas)
    except CaptureError as exc:
        raise ValueError(str(exc)) from None
    except FrameError as exc:  # a lost comm frame is not one: only a board frame that is not there
        raise ValueError(f"{path}: the board's frame cannot be decoded ({exc})") from None
    n = radar.z.shape[0]
    theta = math.radians(labels.target_angle_deg) if labels.target_present else 0.0
    return Snapshots(
        torch.as_tensor(radar.z),
        torch.full((n,), labels.target_present),
        torch.full((n,), theta, dtype=torch.float32),
        torch.as_tensor(comm.z),
        torch.as_tensor(comm.kappa),
        torch.as_tensor(labels.messages),
    )


# --- training ------------------------------------------------------------------------------------------


def receiver_terms(model: Autoencoder, data: Snapshots) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-snapshot terms of ``model``'s receivers (differentiable): radar J_NLL (N,) of every snapshot and comm
    J_CE (C,) of the C whose comm frame was decoded; a lost frame's NaN kappa never reaches the comm receiver.
    With every frame decoded, omega_r radar + (1 - omega_r) comm is :func:`~.objective.isac_terms`."""
    each = lambda x: x.unsqueeze(-1)  # noqa: E731  (the losses reduce over a trailing dimension of one)
    logit, theta_hat, sigma_hat = (out[0] for out in model.radar(data.z.unsqueeze(0)))
    radar = radar_nll(each(logit), each(theta_hat), each(sigma_hat), each(data.theta), each(data.target))
    decoded = data.decoded
    logits = model.comm((data.z_comm[decoded] / data.kappa[decoded]).unsqueeze(0))[0]
    return radar, comm_loss(logits.unsqueeze(-2), each(data.messages[decoded]))


def _isac(radar_sum, radar_count: int, comm_sum, comm_count: int, omega: float):
    """J_ISAC from the sums and counts of the radar and comm terms (no comm term where no frame was decoded)."""
    return isac_loss(radar_sum / radar_count, comm_sum / max(comm_count, 1), omega)


def receiver_objective(model: Autoencoder, omega: float, data: Snapshots) -> torch.Tensor:
    """J_ISAC of a training batch (a differentiable scalar)."""
    radar, comm = receiver_terms(model, data)
    return _isac(radar.sum(), len(radar), comm.sum(), len(comm), omega)


@torch.no_grad()
def _loss(model: Autoencoder, omega: float, data: Snapshots) -> float:
    """J_ISAC of ``model``'s receivers on all of ``data``."""
    sums, comm_count = torch.zeros(2, dtype=torch.float64), 0
    for start in range(0, len(data), _CHUNK):
        radar, comm = receiver_terms(model, data.rows(slice(start, start + _CHUNK)))
        sums += torch.stack([radar.double().sum(), comm.double().sum()])
        comm_count += len(comm)
    return float(_isac(sums[0], len(data), sums[1], comm_count, omega))


def _receiver_state(model: Autoencoder) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.split(".")[0] in RECEIVERS}
