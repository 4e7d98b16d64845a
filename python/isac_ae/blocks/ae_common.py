"""Shared pieces of the learned (autoencoder) GNU Radio blocks: model loading, omega_r, torch set-up, warnings.

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
    "TorchThread",
    "checked_omega",
    "finite_rows",
    "load_system",
    "model_conditioned",
    "resolve_model_path",
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


def model_conditioned(model_path) -> bool:
    """Whether a model file (a path or a shipped name) holds a conditioned model: what a flowgraph asks to wire
    its omega_r control to the blocks."""
    return load_model(resolve_model_path(model_path)).conditioned


def load_system(model_path, K=None, M=None, omega=None) -> tuple[AutoencoderSystem, LoadedModel]:
    """Load a model file for a block whose parameters say K antennas and |M| messages, at omega_r ``omega``.

    Returns (system, loaded model). A model with another K or |M| raises
    :class:`ModelFileError` naming both, before any port is created; an
    ``omega`` the model cannot run at (:func:`checked_omega`) a ValueError.
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
    return AutoencoderSystem(loaded.model, sc, omega=checked_omega(loaded, omega)), loaded


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


def finite_rows(z: np.ndarray) -> np.ndarray:
    """Boolean (N,): the items of a complex64 (N,) or (N, K) array whose samples are all finite."""
    return np.isfinite(z.view(np.float32).reshape(len(z), -1)).all(axis=-1)
