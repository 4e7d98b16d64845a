"""The end-to-end ISAC autoencoder: networks (Table I) and losses (eqs. 3-8)."""

from .losses import comm_loss, detection_loss, isac_loss, radar_nll, regression_mse, regression_nll
from .networks import (
    SIGMA_FLOOR,
    AngleEstimator,
    Beamformer,
    CommReceiver,
    Encoder,
    PresenceDetector,
    UncertaintyEstimator,
    normalise_batch,
)

__all__ = [
    "SIGMA_FLOOR",
    "AngleEstimator",
    "Beamformer",
    "CommReceiver",
    "Encoder",
    "PresenceDetector",
    "UncertaintyEstimator",
    "comm_loss",
    "detection_loss",
    "isac_loss",
    "normalise_batch",
    "radar_nll",
    "regression_mse",
    "regression_nll",
]
