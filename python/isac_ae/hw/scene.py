"""What is in front of the array, and who puts it there.

A :class:`Scene` is the ground truth of a capture: the targets (angle, RMS
amplitude), the comm receiver's angle and RMS channel amplitude. A scene
controller makes a scene real before a capture:

* :class:`EmulatorSceneController` writes it to the emulator's scene debug
  attribute through libiio (the way an operator moves a target on a twin);
* :class:`OperatorSceneController` asks the person at a real bench to place
  the reflector or source (or switch it off) and waits for Enter.

Calibration, manifold measurement, captures and evaluation only talk to a
controller, so the same code runs on a bench and on a twin. Angles in
degrees; amplitudes in full-scale units (a real bench cannot set them: the
operator controller says so and ignores them).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, TextIO


@dataclass(frozen=True)
class Target:
    """A point target (reflector or source) at ``angle_deg`` with RMS amplitude ``amplitude`` (full scale)."""

    angle_deg: float
    amplitude: float = 0.0


@dataclass(frozen=True)
class Scene:
    """Targets in front of the array and the comm receiver; an empty scene has none."""

    targets: tuple[Target, ...] = ()
    comm_angle_deg: Optional[float] = None
    comm_amplitude: float = 0.0
    label: str = field(default="", compare=False)

    def to_json(self) -> str:
        """The emulator's scene text (:func:`isac_ae.hw.emulator.source.parse_scene`)."""
        data: dict = {"targets": [{"angle_deg": t.angle_deg, "amplitude": t.amplitude} for t in self.targets]}
        if self.comm_angle_deg is not None:
            data["comm_angle_deg"] = self.comm_angle_deg
            data["comm_amplitude"] = self.comm_amplitude
        return json.dumps(data, separators=(",", ":"))

    def describe(self) -> str:
        """One line for an operator."""
        parts = [f"target at {t.angle_deg:+.1f} deg" for t in self.targets] or ["no target (reflector removed or off)"]
        if self.comm_angle_deg is not None:
            parts.append(f"comm receiver at {self.comm_angle_deg:+.1f} deg")
        return ", ".join(parts)


class SceneController(Protocol):
    def set(self, scene: Scene) -> None:
        """Make ``scene`` real; return once it is in place."""


class EmulatorSceneController:
    """Sets the scene of a twin served by ``isac-ae hw emulate`` through its scene debug attribute.

    ``uris``: every emulated context whose physics depends on the scene (the
    board, and its comm receiver or the Phaser's Pluto).
    """

    def __init__(self, uris: list[str]):
        import iio  # pylibiio: the same client library a board is reached with

        from .emulator.source import SCENE_ATTR

        self._attrs = []
        for uri in uris:
            try:
                ctx = iio.Context(uri)
            except OSError as exc:
                raise ConnectionError(f"cannot reach {uri}: {exc}") from exc
            found = [dev.debug_attrs[SCENE_ATTR] for dev in ctx.devices if SCENE_ATTR in dev.debug_attrs]
            if not found:
                raise ConnectionError(
                    f"{uri} is not an isac-ae twin (no {SCENE_ATTR} debug attribute): "
                    "on a real board use the operator scene controller"
                )
            self._attrs.append((ctx, found[0]))

    def set(self, scene: Scene) -> None:
        text = scene.to_json()
        for _, attr in self._attrs:
            attr.value = text


class OperatorSceneController:
    """Asks the operator to set up each scene and waits for Enter (``input``/``output`` for tests)."""

    def __init__(self, input: Callable[[], str] = None, output: TextIO = None):
        self._input = input or (lambda: sys.stdin.readline())
        self._output = output or sys.stderr
        self._current: Optional[Scene] = None

    def set(self, scene: Scene) -> None:
        if scene == self._current:
            return
        print(f"set up the bench: {scene.describe()}, then press Enter", file=self._output, flush=True)
        if any(t.amplitude for t in scene.targets) or scene.comm_amplitude:
            print(
                "  (amplitudes cannot be set on a bench: the measured SNR is what the bench gives)",
                file=self._output,
                flush=True,
            )
        if self._input() == "":  # end of input: nobody is there to move the target
            raise RuntimeError("no operator input (end of file) while waiting for the scene to be set up")
        self._current = scene
