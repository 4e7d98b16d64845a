"""The paper's model-based baselines (Sec. IV-B, Appendix A)."""

from .beams import isac_beam, ls_beam, qam_constellation
from .maprt import MaprtDetector, MaprtOutput
from .ml_detector import ml_detect
from .system import BaselineSystem

__all__ = [
    "BaselineSystem",
    "MaprtDetector",
    "MaprtOutput",
    "isac_beam",
    "ls_beam",
    "ml_detect",
    "qam_constellation",
]
