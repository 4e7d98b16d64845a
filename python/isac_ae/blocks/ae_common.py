"""Shared pieces of the learned (autoencoder) GNU Radio blocks: model loading, torch set-up, warnings.

The blocks call the core (:class:`isac_ae.autoencoder.AutoencoderSystem`) and
copy none of its maths. Each ``work()`` call runs one batched forward pass under
``torch.inference_mode()`` with one torch thread: the batch, not torch's thread
pool, is what makes a forward pass cheap per item, and every GNU Radio block
already runs on its own thread, so more torch threads would only compete with
the other blocks for the cores. The blocks ask for output buffers of
:data:`BATCH_ITEMS` items so that the blocks after them see large batches.
"""

from __future__ import annotations

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
    "finite_rows",
    "load_system",
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


def load_system(model_path, K=None, M=None) -> tuple[AutoencoderSystem, LoadedModel]:
    """Load a model file for a block whose parameters say K antennas and |M| messages.

    Returns (system, loaded model). A model with another K or |M| raises
    :class:`ModelFileError` naming both, before any port is created.
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
    return AutoencoderSystem(loaded.model, sc), loaded


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
