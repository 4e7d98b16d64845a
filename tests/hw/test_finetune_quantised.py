"""Quantisation-aware training for the Phaser (K = 8, ADAR1000 steps) through its twin's array: the weights the
channels apply are exact gain and phase codes at one global scale, the straight-through estimator passes the
gradient unchanged, a QAT model evaluates at the scenario's Pfa after quantisation, and quantising a model
trained without QAT costs it little.

Not asserted, and why: that the QAT model beats the one quantised post hoc. At the device's steps the beam moves
by 1-2 % of its norm; post-hoc quantisation then shifts J_ISAC by a few percent at most, of either sign (the
first-order term of a beam short of its optimum), and QAT can win at most that. Two training runs that differ
only by the quantiser differ by more (isac_ae.hw.finetune.quantised's docstring has the measurements), so no
margin derived from a held-out set could resolve a QAT gain with one run of each.
"""

import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.autoencoder import AutoencoderSystem, TrainingError
from isac_ae.channels import Beamformed, Channels
from isac_ae.evaluation import evaluate
from isac_ae.hw.finetune.objective import heldout_terms
from isac_ae.hw.finetune.quantised import applied_beam, quantised_channels, train_quantised
from isac_ae.hw.profiles import ProfileError, profile
from isac_ae.hw.twin import DigitalTwin
from isac_ae.impairments import ADAR1000_MAX_GAIN_CODE, adar1000_codes, adar1000_weights

from ..helpers import Z
from .torch_threads import one_thread  # noqa: F401

PHASER = profile("phaser")
TWIN_SEED, OMEGA = 0, 0.09
SCENARIO = Scenario(num_antennas=8)
SAMPLES_PER_STAGE = 1_000_000
HELD_OUT = 100_000
#: The largest change of J_ISAC post-hoc quantisation may make, as a fraction of J (see the module docstring).
STAKES = 0.05


def _assert_exact_codes(applied: torch.Tensor, beam: torch.Tensor) -> None:
    """``applied`` (..., K) is s w(codes) with the codes nearest to ``beam`` and s = max |applied| (code 127 is
    weight 1), at ``beam``'s energy."""
    gain, phase = adar1000_codes(applied)
    nearest_gain, nearest_phase = adar1000_codes(beam)
    assert torch.equal(gain, nearest_gain) and gain.amax(-1).eq(ADAR1000_MAX_GAIN_CODE).all()
    on = gain > 0  # an element switched off has no phase
    assert torch.equal(phase[on], nearest_phase[on])
    scale = applied.abs().amax(-1, keepdim=True)
    rebuilt = scale * adar1000_weights(gain, phase, dtype=applied.dtype)
    assert torch.all((applied - rebuilt).abs() <= 8 * torch.finfo(applied.real.dtype).eps * scale)
    torch.testing.assert_close(applied.norm(dim=-1), beam.norm(dim=-1))


def test_applied_beams_are_exact_codes_at_the_beams_energy_and_the_ste_passes_the_gradient():
    beams = torch.randn(500, 8, dtype=torch.complex64, generator=torch.Generator().manual_seed(3))
    _assert_exact_codes(applied_beam(beams, PHASER), beams)
    # Straight through: on a beam the device can apply already, the applied beam is the beam and its
    # Jacobian the identity (the rounding alone has gradient zero almost everywhere).
    representable = applied_beam(beams[:4].to(torch.complex128), PHASER).requires_grad_()
    out = applied_beam(representable, PHASER, straight_through=True)
    torch.testing.assert_close(out.detach(), representable.detach(), rtol=0, atol=1e-12)
    cotangent = torch.randn(4, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(4))
    (grad,) = torch.autograd.grad((out * cotangent.conj()).real.sum(), representable)
    torch.testing.assert_close(grad, cotangent, rtol=0, atol=1e-12)
    # A digital board applies its weights as they are.
    assert torch.equal(applied_beam(beams[:, :4], profile("fmcomms5")), beams[:, :4])


def test_the_quantised_channels_transmit_the_applied_beam():
    array = DigitalTwin("phaser", TWIN_SEED).truth.array
    beam = torch.randn(8, dtype=torch.complex64, generator=torch.Generator().manual_seed(5))
    symbols = torch.randn(256, dtype=torch.complex64, generator=torch.Generator().manual_seed(6))
    quantised = quantised_channels(SCENARIO, array, PHASER)
    plain = Channels.simulated(SCENARIO, array=array)
    applied = Beamformed(symbols, applied_beam(beam, PHASER))
    for draw in (
        lambda ch, y, g: ch.radar(y, g),
        lambda ch, y, g: ch.radar.draw_grouped(y, g),
        lambda ch, y, g: ch.comm(y, g),
    ):
        got = draw(quantised, Beamformed(symbols, beam), torch.Generator().manual_seed(7))
        want = draw(plain, applied, torch.Generator().manual_seed(7))
        for name, value in vars(want).items():
            assert torch.equal(getattr(got, name), value), name
    with pytest.raises(ValueError, match="applies one beam"):
        quantised.radar(torch.ones(4, 8, dtype=torch.complex64), torch.Generator())


@pytest.fixture(scope="module")
def trained():
    """The same model (seed, draws, budget) trained with the quantiser in the loop and without it."""
    return {
        qat: train_quantised(OMEGA, twin_seed=TWIN_SEED, quantisation_aware=qat, samples_per_stage=SAMPLES_PER_STAGE)
        for qat in (True, False)
    }


def test_the_qat_model_applies_exact_codes_and_evaluates_after_quantisation(trained):
    model, meta = trained[True]
    system = AutoencoderSystem(model, SCENARIO)
    _assert_exact_codes(applied_beam(system.beam, PHASER), system.beam)
    assert meta["method"] == "quantisation-aware" and meta["device"] == "phaser"
    assert meta["samples"] == 4 * SAMPLES_PER_STAGE and trained[False][1]["method"].startswith("unquantised")
    # Evaluated at Pfa 1e-2 through the twin's array with the quantised beam: the threshold holds.
    array = DigitalTwin("phaser", TWIN_SEED).truth.array
    result = evaluate(system, HELD_OUT, seed=3, channels=quantised_channels(SCENARIO, array, PHASER))
    absent = result.samples - result.targets
    pfa = SCENARIO.pfa
    assert abs(result.pfa - pfa) < Z * math.sqrt(pfa * (1 - pfa) * (1 / absent + 1 / result.h0_samples))


def test_post_hoc_quantisation_costs_a_model_trained_without_it_little(trained):
    """What QAT could win: the change of J_ISAC when the unquantised model's beam is quantised, on the same
    held-out draws (paired), within STAKES of J plus the sampling error."""
    model, _ = trained[False]
    array = DigitalTwin("phaser", TWIN_SEED).truth.array
    exact = heldout_terms(model, SCENARIO, OMEGA, Channels.simulated(SCENARIO, array=array), HELD_OUT, seed=9)
    quantised = heldout_terms(model, SCENARIO, OMEGA, quantised_channels(SCENARIO, array, PHASER), HELD_OUT, seed=9)
    change = quantised - exact
    assert abs(change.mean()) < STAKES * abs(exact.mean()) + Z * change.std() / np.sqrt(HELD_OUT)
    assert change.std() > 0  # the beam did change: the comparison is not of a model with itself


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="the phaser profile has K = 8 elements; the scenario has K = 16"):
        train_quantised(OMEGA, scenario=Scenario())
    with pytest.raises(ValueError, match="budget must be 'quick' or 'full'"):
        train_quantised(OMEGA, budget="paper")
    # A checkpoint resumes only through the channels it was trained through.
    checkpoint = tmp_path / "qat.pt"
    train_quantised(OMEGA, samples_per_stage=20_000, checkpoint=checkpoint)
    with pytest.raises(TrainingError, match="was trained through other channels"):
        train_quantised(OMEGA, samples_per_stage=20_000, checkpoint=checkpoint, quantisation_aware=False)
    with pytest.raises(TrainingError, match="was trained through other channels"):
        train_quantised(OMEGA, samples_per_stage=20_000, checkpoint=checkpoint, twin_seed=1)
