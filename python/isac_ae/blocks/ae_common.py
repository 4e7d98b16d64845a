"""Shared pieces of the learned (autoencoder) GNU Radio blocks: model loading, omega_r, sectors, torch set-up,
warnings.

The blocks call the core (:class:`isac_ae.autoencoder.AutoencoderSystem`) and
copy none of its maths. Each ``work()`` call runs one batched forward pass under
``torch.inference_mode()`` with one torch thread: the batch, not torch's thread
pool, is what makes a forward pass cheap per item, and every GNU Radio block
already runs on its own thread, so more torch threads would only compete with
the other blocks for the cores. The blocks ask for output buffers of
:data:`BATCH_ITEMS` items so that the blocks after them see large batches.

A conditioned model (omega_r an input of its networks) runs at the trade-off
point ``omega`` that the blocks take, and ``set_omega`` moves it while the
flowgraph runs; ``None`` is the model's own point (a conditioned model's
default, ``metadata["omega"]``). A model that is not conditioned was trained
for one omega_r: it refuses any other value.

The sectors (target and comm, degrees) are the beamformer's input in every
model. A sector-conditioned model also takes them as an input of its receivers
(:attr:`LoadedModel.sector_conditioned`): its three blocks move together with
``set_sectors``. Any other model was trained at one pair of sectors: its
transmitter still designs a beam for other sectors (extrapolated, with one
warning) but its receivers, which have no sector input, refuse them.
"""

from __future__ import annotations

import numbers
import os
import threading
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..autoencoder import AutoencoderSystem
from ..autoencoder.modelfile import LoadedModel, ModelFileError, load_model
from ..autoencoder.sectors import SectorDistribution
from ..scenario import Scenario
from . import checks

#: Minimum output buffer (items) the Python blocks ask for on their outputs. GNU
#: Radio's default (64 KiB) holds 512 snapshots of K = 16, which makes every
#: work() call a small batch; set the same "Min Output Buffer" (GRC: Advanced
#: tab) on the C++ block that feeds an AE receiver.
BATCH_ITEMS = 8192

#: The shipped model that the GRC blocks and flowgraphs use by default.
DEFAULT_MODEL = "nominal/omega_0.09.safetensors"

__all__ = [
    "BATCH_ITEMS",
    "DEFAULT_MODEL",
    "ModelFileError",
    "OnceWarning",
    "SectorControls",
    "TorchThread",
    "checked_omega",
    "checked_sectors",
    "finite_rows",
    "load_system",
    "model_conditioned",
    "model_sector_conditioned",
    "resolve_model_path",
    "sector_scenario",
]


def resolve_model_path(path) -> Path:
    """A model file path as given, or else relative to the shipped models directory.

    ``"nominal/omega_0.09.safetensors"`` thus names a shipped model from any
    working directory. Raises :class:`ModelFileError` naming every place tried.
    """
    if path is None or str(path).strip() == "":
        raise ModelFileError("no model file given (expected a .safetensors model file)")
    given = Path(os.path.expanduser(str(path).strip()))
    if given.is_file():
        return given
    if given.exists():
        raise ModelFileError(f"model file {str(path)!r} is not a regular file (a directory or a device)")
    tried = [str(given.resolve()) if not given.is_absolute() else str(given)]
    if not given.is_absolute():
        from ..pretrained import models_dir

        try:
            shipped = models_dir() / given
        except FileNotFoundError:
            shipped = None
        if shipped is not None:
            if shipped.is_file():
                return shipped
            tried.append(str(shipped))
    raise ModelFileError(f"model file {str(path)!r} not found (tried {', '.join(tried)})")


def _expected(value, name: str) -> Optional[int]:
    """Block parameter K or |M|: None or 0 accepts the model's value."""
    if value is None:
        return None
    try:
        return checks.integer(value, name, 0) or None
    except ValueError:
        raise ValueError(f"{name} must be an integer >= 1 (or 0 to take the model's), got {value!r}") from None


def checked_omega(loaded: LoadedModel, omega) -> Optional[float]:
    """The trade-off point a block runs ``loaded`` at: omega_r in [0, 1] for a conditioned model (None: its
    default point), None for any other model; ValueError for anything else, naming the model."""
    if not loaded.conditioned:
        if omega is not None:
            raise ValueError(
                f"omega_r = {omega!r} given, but {loaded.path.name} is not a conditioned model (it was trained for "
                f"omega_r = {loaded.omega:g} only): leave omega_r at None, or choose a model trained with "
                "isac-ae train --conditioned"
            )
        return None
    if omega is None:
        return loaded.omega
    if isinstance(omega, bool) or not isinstance(omega, numbers.Real) or not 0.0 <= float(omega) <= 1.0:
        raise ValueError(f"omega_r must be a number in [0, 1] (None: the model's {loaded.omega:g}), got {omega!r}")
    return float(omega)


def _sector(value, current, trained, name) -> tuple:
    """(min, max) degrees: None keeps ``current``, an empty sequence selects the model's ``trained`` sector (the
    range is checked by :class:`Scenario`)."""
    if value is None:
        return tuple(current)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) not in (0, 2):
        raise ValueError(f"{name} must be (min, max) in degrees, or empty for the model's sector, got {value!r}")
    return tuple(trained) if len(value) == 0 else tuple(float(a) for a in value)


def sector_scenario(loaded: LoadedModel, current: Scenario, target_sector_deg, comm_sector_deg) -> Scenario:
    """``current`` with new sectors, degrees (None keeps a sector, an empty sequence selects ``loaded``'s own);
    ValueError for a sector that is not (min, max) with -90 <= min <= max <= 90."""
    trained = loaded.scenario
    return current.replace(
        target_sector_deg=_sector(
            target_sector_deg, current.target_sector_deg, trained.target_sector_deg, "target_sector_deg"
        ),
        comm_sector_deg=_sector(comm_sector_deg, current.comm_sector_deg, trained.comm_sector_deg, "comm_sector_deg"),
    )


def _sectors(scenario: Scenario) -> tuple:
    return scenario.target_sector_deg, scenario.comm_sector_deg


def checked_sectors(loaded: LoadedModel, scenario: Scenario) -> Scenario:
    """``scenario`` if a receiver of ``loaded`` can run at its sectors: any for a sector-conditioned model, the
    model's own for any other (its receivers have no sector input); else a ValueError naming the model."""
    if loaded.sector_conditioned or _sectors(scenario) == _sectors(loaded.scenario):
        return scenario
    (t0, t1), (c0, c1) = _sectors(loaded.scenario)
    raise ValueError(
        f"sectors target {list(scenario.target_sector_deg)}, comm {list(scenario.comm_sector_deg)} deg given, but "
        f"{loaded.path.name} is not a sector-conditioned model (it was trained for the target sector [{t0:g}, {t1:g}]"
        f" and the comm sector [{c0:g}, {c1:g}] deg, and its receivers have no sector input): leave the receivers' "
        "sectors empty, or choose a model trained with isac-ae train --sector-conditioned"
    )


def model_conditioned(model_path) -> bool:
    """Whether a model file (a path or a shipped name) holds a conditioned model: what a flowgraph asks to wire
    its omega_r control to the blocks."""
    return load_model(resolve_model_path(model_path)).conditioned


def model_sector_conditioned(model_path) -> bool:
    """Whether a model file (a path or a shipped name) holds a sector-conditioned model: what a flowgraph asks to
    wire its sector controls to the receivers (the transmitter takes sectors with any model)."""
    return load_model(resolve_model_path(model_path)).sector_conditioned


def load_system(
    model_path, K=None, M=None, omega=None, target_sector_deg=None, comm_sector_deg=None
) -> tuple[AutoencoderSystem, LoadedModel]:
    """Load a model file for a block whose parameters say K antennas and |M| messages, at omega_r ``omega`` and
    the sectors ``target_sector_deg``, ``comm_sector_deg`` (degrees; None or empty: the model's).

    Returns (system, loaded model). A model with another K or |M| raises
    :class:`ModelFileError` naming both, before any port is created; an
    ``omega`` the model cannot run at (:func:`checked_omega`) or a bad sector
    a ValueError. Other sectors are not refused here: a receiver calls
    :func:`checked_sectors`.
    """
    K, M = _expected(K, "K"), _expected(M, "|M|")
    path = resolve_model_path(model_path)
    torch.set_num_threads(1)
    loaded = load_model(path)
    sc = loaded.scenario
    wrong = []
    if K is not None and K != sc.num_antennas:
        wrong.append(f"K={sc.num_antennas} (block: K={K})")
    if M is not None and M != sc.num_messages:
        wrong.append(f"|M|={sc.num_messages} (block: |M|={M})")
    if wrong:
        raise ModelFileError(
            f"model {path} does not fit the block: it was trained for {', '.join(wrong)}; "
            "set the block's parameters to the model's, or choose a model trained for them"
        )
    omega = checked_omega(loaded, omega)
    scenario = sector_scenario(loaded, sc, target_sector_deg, comm_sector_deg)
    return AutoencoderSystem(loaded.model, scenario, omega=omega), loaded


class TorchThread:
    """Sets torch to one intra-op thread on each GNU Radio thread that calls it.

    ``torch.set_num_threads`` is per OS thread for OpenMP builds, and every
    block runs on its own scheduler thread, so the work() thread sets it too.
    """

    def __init__(self):
        self._done = set()

    def __call__(self) -> None:
        ident = threading.get_ident()
        if ident not in self._done:
            torch.set_num_threads(1)
            self._done.add(ident)


class OnceWarning:
    """Logs a warning through the block's GNU Radio logger the first time only."""

    def __init__(self, block, message: str):
        self._block = block
        self._message = message
        self.count = 0

    def __call__(self, detail: str = "") -> None:
        self.count += 1
        if self.count == 1:
            self._block.logger.warn(self._message + (f" ({detail})" if detail else ""))


class SectorControls:
    """The sector setters and getters every AE block shares (GRC's callbacks), degrees.

    A subclass holds ``_loaded`` (the model file) and ``_system`` (the system in use), implements
    ``set_sectors(target_sector_deg, comm_sector_deg)`` (None keeps a sector, an empty sequence selects the
    model's) and calls ``_init_sector_note()`` once its logger exists and ``_note_sectors(scenario)`` for
    every scenario it is asked to run at.
    """

    def _init_sector_note(self) -> None:
        conditioning = self._loaded.metadata.get("conditioning") or {}
        trained_on = conditioning.get("sector_distribution")
        self._trained_on = SectorDistribution.from_dict(trained_on) if trained_on is not None else None
        (t0, t1), (c0, c1) = _sectors(self._loaded.scenario)
        if self._loaded.sector_conditioned:
            message = f"these sectors lie outside those {self._loaded.path.name} trained on ({self._trained_on})"
        else:
            message = (
                f"{self._loaded.path.name} was trained at the fixed sectors target [{t0:g}, {t1:g}], comm "
                f"[{c0:g}, {c1:g}] deg: the beam for other sectors is extrapolated by its beamformer network"
            )
        self._off_sectors = OnceWarning(self, message)

    def _note_sectors(self, scenario: Scenario) -> None:
        """Warn once when ``scenario``'s sectors are beyond what the model was trained at."""
        if self._loaded.sector_conditioned:
            outside = self._trained_on is not None and not self._trained_on.contains(scenario)
        else:
            outside = _sectors(scenario) != _sectors(self._loaded.scenario)
        if outside:
            (t0, t1), (c0, c1) = _sectors(scenario)
            self._off_sectors(f"target [{t0:g}, {t1:g}], comm [{c0:g}, {c1:g}] deg")

    def set_target_sector(self, sector_deg) -> None:
        """New target sector (min, max), degrees (empty: the model's)."""
        self.set_sectors(sector_deg, None)

    def set_comm_sector(self, sector_deg) -> None:
        """New comm sector (min, max), degrees (empty: the model's)."""
        self.set_sectors(None, sector_deg)

    def sectors_deg(self) -> tuple:
        """(target sector, comm sector) in use, degrees."""
        return _sectors(self._system.scenario)

    def sector_conditioned(self) -> bool:
        """Whether the model takes the sectors as an input of its receivers too (``set_sectors`` moves them)."""
        return self._loaded.sector_conditioned


def finite_rows(z: np.ndarray) -> np.ndarray:
    """Boolean (N,): the items of a complex64 (N,) or (N, K) array whose samples are all finite."""
    return np.isfinite(z.view(np.float32).reshape(len(z), -1)).all(axis=-1)
