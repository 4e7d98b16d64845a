"""The end-to-end ISAC autoencoder: networks (Table I), losses (eqs. 3-8), training (Sec. III-C), model files."""

from .losses import comm_loss, detection_loss, isac_loss, radar_nll, regression_mse, regression_nll
from .model import NETWORKS, Autoencoder
from .networks import SIGMA_FLOOR
from .system import AutoencoderSystem
from .training import BUDGETS, SCHEDULES, Trainer, TrainingConfig, TrainingError

__all__ = [
    "BUDGETS",
    "NETWORKS",
    "SCHEDULES",
    "SIGMA_FLOOR",
    "Autoencoder",
    "AutoencoderSystem",
    "Trainer",
    "TrainingConfig",
    "TrainingError",
    "comm_loss",
    "detection_loss",
    "isac_loss",
    "radar_nll",
    "regression_mse",
    "regression_nll",
]
