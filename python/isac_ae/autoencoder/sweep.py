"""A trade-off sweep of the autoencoder: one model file per omega_r in one directory.

Layout of a sweep directory: ``omega_<w>.safetensors`` per omega_r (a
conditioned run: one ``conditioned.safetensors``) and, while training runs,
``checkpoint.pt`` (deleted once every model file is written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from ..scenario import Scenario
from .modelfile import LoadedModel, ModelFileError, load_model, read_metadata, save_model
from .training import StepReport, Trainer, TrainingConfig

CHECKPOINT_NAME = "checkpoint.pt"
CONDITIONED_NAME = "conditioned.safetensors"
#: The point a conditioned model runs at when none is chosen (the GRC example's default).
DEFAULT_OMEGA = 0.09


def output_names(config: TrainingConfig) -> list[str]:
    """The files a run with ``config`` writes in its directory (model files and the checkpoint)."""
    models = [CONDITIONED_NAME] if config.conditioned else [model_filename(w) for w in config.omegas]
    return [CHECKPOINT_NAME, *models]


def model_filename(omega: float) -> str:
    """File name of the model for ``omega`` (repr keeps 1e-06 and 0.015 exact and distinct)."""
    return f"omega_{float(omega)!r}.safetensors"


def sweep_trainer(
    scenario: Scenario, config: TrainingConfig, out_dir: Path, device="cpu", checkpoint_every: int = 100
) -> Trainer:
    """The trainer of a sweep: one ensemble member per omega_r, checkpointing to ``out_dir/checkpoint.pt``."""
    if len(set(config.omegas)) != len(config.omegas):
        raise ValueError(f"duplicate omega_r values in {list(config.omegas)}")
    return Trainer(
        scenario, config, device=device, checkpoint=Path(out_dir) / CHECKPOINT_NAME, checkpoint_every=checkpoint_every
    )


def write_sweep(trainer: Trainer, out_dir: Path, command: Optional[str] = None) -> list[Path]:
    """One model file per omega_r of a trained ensemble; the checkpoint is deleted once all are written.

    ``command``: recorded in every file as how it was trained (see :func:`save_model`).
    """
    out_dir = Path(out_dir)
    config = trainer.config
    training = {k: v for k, v in config.to_dict().items() if k != "omegas"}
    if config.conditioned:
        conditioning = {"omega_range": list(config.omegas)}
        if trainer.sector_distribution is not None:
            conditioning["sector_distribution"] = trainer.sector_distribution.to_dict()
        path = save_model(
            out_dir / CONDITIONED_NAME,
            trainer.model,
            trainer.scenario,
            min(max(DEFAULT_OMEGA, config.omegas[0]), config.omegas[1]),
            {**training, "conditioning": conditioning},
            command,
        )
        (out_dir / CHECKPOINT_NAME).unlink(missing_ok=True)
        return [path]
    paths = []
    for i, omega in enumerate(config.omegas):
        paths.append(
            save_model(
                out_dir / model_filename(omega),
                trainer.model.member(i),
                trainer.scenario,
                omega,
                {**training, "ensemble_member": i, "ensemble_omegas": list(config.omegas)},
                command,
            )
        )
    (out_dir / CHECKPOINT_NAME).unlink(missing_ok=True)
    return paths


def train_sweep(
    scenario: Scenario,
    config: TrainingConfig,
    out_dir: Path,
    device="cpu",
    progress: Optional[Callable[[StepReport], None]] = None,
    checkpoint_every: int = 100,
    command: Optional[str] = None,
) -> list[Path]:
    """Train every omega_r of ``config`` as one ensemble and write one model file each.

    Resumes from ``out_dir/checkpoint.pt`` when an earlier run was interrupted.
    ``command``: recorded in the model files (default: a library call's description).
    """
    trainer = sweep_trainer(scenario, config, out_dir, device, checkpoint_every)
    trainer.run(progress)
    return write_sweep(trainer, out_dir, command)


def sweep_models(directory: Path) -> list[Path]:
    """Model files of a sweep directory, ordered by omega_r."""
    files = [p for p in Path(directory).glob("*.safetensors")]
    return sorted(files, key=lambda p: read_metadata(p)["omega"])


def load_sweep(directory: Path, scenario: Optional[Scenario] = None, device="cpu") -> list[LoadedModel]:
    """Every model of a sweep directory, ordered by omega_r; refuses an empty directory."""
    files = sweep_models(directory)
    if not files:
        raise ModelFileError(f"no model files (*.safetensors) in {directory}")
    return [load_model(p, scenario, device) for p in files]
