"""The paper's model-based baselines (Sec. IV-B, Appendix A)."""

from .beams import isac_beam, ls_beam, ls_beam_for, qam_constellation
from .maprt import DictionaryMaprt, MaprtDetector, MaprtOutput
from .ml_detector import ml_detect
from .steering import ArraySteering, DictionarySteering, PositionSteering
from .system import BaselineSystem, design_maprt

__all__ = [
    "ArraySteering",
    "BaselineSystem",
    "DictionaryMaprt",
    "DictionarySteering",
    "PositionSteering",
    "design_maprt",
    "ls_beam_for",
    "MaprtDetector",
    "MaprtOutput",
    "isac_beam",
    "ls_beam",
    "ml_detect",
    "qam_constellation",
]
