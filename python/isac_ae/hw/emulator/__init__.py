"""An IIO emulator: libiio's network protocol on 127.0.0.1, serving the device trees of the boards.

Unmodified pylibiio, pyadi-iio and gr-iio connect to ``ip:127.0.0.1:PORT`` as
they would to a board. The samples come from a :class:`SampleSource` (a
TX-to-RX loopback here, the digital twin later); the scene (targets, comm
receiver) is the JSON debug attribute :data:`SCENE_ATTR` on each context's
control device.
"""

from .profiles import (
    ADAR1000_PHASE_STEP_DEG,
    CN0566_ELEMENTS,
    COMM_RADIO,
    PROFILES,
    ad9361_lo,
)
from .server import Emulator
from .source import (
    DEFAULT_SCENE,
    SCENE_ATTR,
    AttrKey,
    DeviceState,
    LoopbackSource,
    RxRequest,
    SampleSource,
    TxBurst,
    parse_scene,
)

__all__ = [
    "ADAR1000_PHASE_STEP_DEG",
    "CN0566_ELEMENTS",
    "COMM_RADIO",
    "DEFAULT_SCENE",
    "PROFILES",
    "SCENE_ATTR",
    "AttrKey",
    "DeviceState",
    "Emulator",
    "LoopbackSource",
    "RxRequest",
    "SampleSource",
    "TxBurst",
    "ad9361_lo",
    "parse_scene",
]
