"""Quantisation-aware training (QAT) for an analog array: weights a CN0566 Phaser can apply.

The Phaser's two ADAR1000s set each element's weight as a 7-bit gain code
(amplitude code / 127, linear law) and a 7-bit phase code (steps of
2.8125 deg). The chips only attenuate: the largest weight of a vector takes
code 127 and the overall level is the chain's gain, so only the ratios
between elements are quantised. The array is analog and receive-only
(docs/HARDWARE.md): a learned beam is applied on a real Phaser as its
*receive* weights (reciprocity), never transmitted, so the ISAC loop cannot
run on it. QAT therefore trains the K = 8 system in simulation through the
Phaser twin's array (``DigitalTwin('phaser', seed).truth.array``: its gains,
spacing and coupling), with the beam replaced by what the ADAR1000s apply:

    v_applied = s * w(codes(v)),   s = ||v|| / ||w(codes(v))||  (real, > 0),

where ``codes`` are the nearest gain and phase codes
(:func:`~isac_ae.impairments.adar1000_codes`) and ``w`` the weights they
apply (:func:`~isac_ae.impairments.adar1000_weights`). The one global scale
s keeps the unquantised beam's energy (E||y||^2 = 1, the paper's power
constraint, so the SNRs mean what they mean in training); it changes no
ratio, so ``adar1000_codes(v_applied)`` gives the same codes back. In
training the quantiser is the straight-through estimator (forward: the
codes' weights; backward: identity). The quantisation sits in the channel
(the device applies it, the model does not know it), so training
(:class:`~isac_ae.autoencoder.Trainer`) and evaluation
(:func:`~isac_ae.evaluation.evaluate`) take it as they take any channel.

What it buys at the Phaser's steps (twin seed 0, the paper's scenario at
K = 8, omega_r = 0.09, 10^6 samples per stage, training seed 0; held-out
J_ISAC paired over 2 x 10^5 draws of the twin's array, Pd at Pfa 1e-2):
the steps move a trained beam by 1.3-1.5 % of its norm. Quantising the
model trained without QAT changes its J_ISAC by -2.7e-4 +- 0.06e-4 nats
(-2.4 %: it helps, a first-order effect of a beam short of its optimum)
and Pd from 0.203 to 0.207 at the same SER (0.0056); the QAT model's J after
quantisation is 1.4e-3 +- 0.8e-3 nats *above* the post-hoc one's (Pd 0.207,
the same SER). At 3 x 10^5 samples per stage: 1.5e-3 +- 0.8e-3 above. Where
a weak radar lobe could make the steps matter (omega_r = 1e-5 at
SNR_r = 30 dB), quantisation post hoc moved Pd by -0.001 (0.929 ->
0.928) and J by -5e-7 +- 7e-7. So QAT is not needed at these steps: what it
could win is below what separates two training runs that differ only by the
quantiser, and no held-out set resolves a QAT gain from one run of each.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import torch

from ...autoencoder.model import Autoencoder
from ...autoencoder.training import BUDGETS, StepReport, Trainer, TrainingConfig, TrainingError
from ...channels import Beamformed, Channels, CommDraw, RadarChannel, RadarDraw
from ...impairments import ArrayModel
from ...scenario import Scenario
from ..profiles import DeviceProfile
from ..profiles import profile as get_profile
from ..twin import DigitalTwin

#: The analog board QAT is for.
DEVICE = "phaser"


def applied_beam(beam: torch.Tensor, board: DeviceProfile, straight_through: bool = False) -> torch.Tensor:
    """The beam (..., K) as ``board`` applies it, at the input's energy (see the module docstring).

    ``straight_through``: the quantiser's gradient is the identity (for training).
    """
    quantised = board.quantise_weights(beam, straight_through)
    energy, applied_energy = (v.abs().square().sum(-1, keepdim=True) for v in (beam, quantised))
    # an all-zero beam stays zero (0 / tiny) instead of 0 / 0
    return quantised * (energy / applied_energy.clamp_min(torch.finfo(energy.dtype).tiny)).sqrt()


class _AppliedBeam:
    """What both wrapped channels share: the beam of a :class:`Beamformed` signal replaced by the applied one."""

    def __init__(self, board: DeviceProfile, straight_through: bool):
        self.board, self.straight_through = board, straight_through

    def __call__(self, y) -> Beamformed:
        if not isinstance(y, Beamformed):
            raise ValueError("an analog array applies one beam: give y as Beamformed")
        return Beamformed(y.symbols, applied_beam(y.beam, self.board, self.straight_through))


class QuantisedRadar:
    """The simulated radar channel of eq. (1) behind an analog board's weight quantisation."""

    def __init__(self, inner: RadarChannel, applied: _AppliedBeam):
        self.inner, self.applied, self.scenario = inner, applied, inner.scenario

    def __call__(self, y, generator: torch.Generator, target: Optional[bool] = None) -> RadarDraw:
        return self.inner(self.applied(y), generator, target)

    def draw_grouped(self, y, generator: torch.Generator) -> RadarDraw:
        """The simulated channel's training draw (present targets first), of the applied beam."""
        return self.inner.draw_grouped(self.applied(y), generator)


class QuantisedComm:
    """The simulated comm channel of eq. (2) behind the same quantisation (its CSI is the applied beam's)."""

    def __init__(self, inner, applied: _AppliedBeam):
        self.inner, self.applied = inner, applied

    def __call__(self, y, generator: torch.Generator) -> CommDraw:
        return self.inner(self.applied(y), generator)


def quantised_channels(
    scenario: Scenario, array: ArrayModel, board: DeviceProfile, straight_through: bool = False, device="cpu"
) -> Channels:
    """Eq. (1)-(2) through ``array`` with every beam quantised as ``board`` applies it."""
    inner = Channels.simulated(scenario, device=device, array=array)
    applied = _AppliedBeam(board, straight_through)
    return Channels(QuantisedRadar(inner.radar, applied), QuantisedComm(inner.comm, applied))


def phaser_scenario(scenario: Optional[Scenario] = None) -> Scenario:
    """The paper's scenario at the Phaser's K = 8 (or ``scenario``, checked to have K = 8)."""
    board = get_profile(DEVICE)
    scenario = scenario or Scenario(num_antennas=board.num_elements)
    board.check_scenario(scenario, "beampattern")
    return scenario


class _ChannelTrainer(Trainer):
    """A Trainer whose checkpoints also name the channels it trains through (the twin and whether the
    quantiser is in the loop), which the Trainer's own configuration does not: a checkpoint is resumed only
    through the same ones."""

    def __init__(self, *args, channel_identity: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel_identity = channel_identity

    def state(self) -> dict:
        return {**super().state(), "channels": self.channel_identity}

    def load_checkpoint(self) -> None:
        try:
            saved = torch.load(self.checkpoint, map_location="cpu", weights_only=True).get("channels")
        except Exception as exc:  # torch raises several types for a damaged file
            raise TrainingError(f"cannot read checkpoint {self.checkpoint}: {exc or type(exc).__name__}") from exc
        if saved != self.channel_identity:
            raise TrainingError(
                f"checkpoint {self.checkpoint} was trained through other channels ({saved}, not "
                f"{self.channel_identity}): use another checkpoint path or delete it to start afresh"
            )
        super().load_checkpoint()


def train_quantised(
    omega: float,
    *,
    scenario: Optional[Scenario] = None,
    twin_seed: int = 0,
    quantisation_aware: bool = True,
    budget: str = "quick",
    samples_per_stage: Optional[int] = None,
    seed: int = 0,
    checkpoint: Optional[Path] = None,
    progress: Optional[Callable[[StepReport], None]] = None,
) -> tuple[Autoencoder, dict]:
    """Train a K = 8 model for the Phaser twin ``twin_seed`` (the staged schedule of
    :class:`~isac_ae.autoencoder.Trainer`), with the ADAR1000 quantisation in the loop
    (``quantisation_aware``) or without it (the model to quantise post hoc).

    budget: "quick" or "full" (:data:`~isac_ae.autoencoder.BUDGETS`'s samples per stage; ``samples_per_stage``
    overrides it); checkpoint / progress: as the Trainer's (a run resumes from its checkpoint, refused if it
    was trained through another twin or with the quantiser otherwise). Returns the one-member model and the
    metadata to record in its model file (``seconds``: this call's).
    """
    if budget not in ("quick", "full"):
        raise ValueError(f"budget must be 'quick' or 'full', got {budget!r}")
    board = get_profile(DEVICE)
    scenario = phaser_scenario(scenario)
    array = DigitalTwin(board, twin_seed).truth.array
    samples = samples_per_stage or BUDGETS["quick" if budget == "quick" else "paper"]
    config = TrainingConfig(omegas=(float(omega),), samples_per_stage=samples, seed=seed, budget=budget)
    channels = (
        quantised_channels(scenario, array, board, straight_through=True)
        if quantisation_aware
        else Channels.simulated(scenario, array=array)
    )
    identity = {"device": DEVICE, "twin_seed": int(twin_seed), "quantisation_aware": bool(quantisation_aware)}
    start = time.perf_counter()
    trainer = _ChannelTrainer(scenario, config, checkpoint=checkpoint, channels=channels, channel_identity=identity)
    model = trainer.run(progress).member(0)
    metadata = {
        "method": "quantisation-aware" if quantisation_aware else "unquantised (quantise post hoc)",
        "device": DEVICE,
        "twin_seed": int(twin_seed),
        "weights": "ADAR1000 receive weights: 7-bit gain codes (linear, largest = 127), 2.8125 deg phase steps",
        "config": config.to_dict(),
        "samples": config.samples_per_stage * len(config.stages),
        "seconds": time.perf_counter() - start,
    }
    return model, metadata
