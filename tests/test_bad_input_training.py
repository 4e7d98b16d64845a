"""Training refuses what would silently produce a meaningless model: divergence, p_target 0 or 1, bad seeds."""

import pytest
import torch

from isac_ae import Scenario
from isac_ae.autoencoder import Trainer, TrainingConfig, TrainingError
from isac_ae.autoencoder.sweep import CHECKPOINT_NAME

TINY = dict(samples_per_stage=2_000, batch_size=500, seed=7)  # 4 steps per stage


def test_divergence_stops_training_and_keeps_the_last_finite_checkpoint(tmp_path):
    checkpoint = tmp_path / CHECKPOINT_NAME
    # Adam with lr 1e6 turns the weights non-finite at this seed's second step; step 1 is checkpointed.
    trainer = Trainer(
        Scenario(), TrainingConfig(omegas=(0.5,), learning_rate=1e6, **TINY), checkpoint=checkpoint, checkpoint_every=1
    )
    with pytest.raises(TrainingError, match=r"diverged: the weights of omega_r = 0.5 are no longer finite"):
        trainer.run()
    state = torch.load(checkpoint, weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert (state["stage_index"], state["step"]) == (0, 1) and (trainer.stage_index, trainer.step) == (0, 2)


def test_only_diverged_members_are_named(tmp_path):
    trainer = Trainer(Scenario(), TrainingConfig(omegas=(0.2, 0.7), **TINY), checkpoint_every=1)
    with torch.no_grad():
        trainer.model.angle.net.layers[0].weight[1, 0, 0] = float("nan")  # member 1 only
    with pytest.raises(TrainingError, match=r"omega_r = 0.7 are no longer finite in stage angle, step 1"):
        trainer.run()


@pytest.mark.parametrize("p_target", [0.0, 1.0])
def test_p_target_without_both_hypotheses_is_refused(p_target):
    with pytest.raises(TrainingError, match="0 < p_target < 1"):
        Trainer(Scenario(p_target=p_target), TrainingConfig(omegas=(0.5,), **TINY))


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(TrainingError, match="seed must be an integer"):
        TrainingConfig(omegas=(0.5,), samples_per_stage=2000, batch_size=500, seed=seed)
