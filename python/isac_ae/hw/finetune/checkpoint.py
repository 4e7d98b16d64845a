"""Checkpoints of a fine-tuning run: written atomically, tied to the run they belong to.

A checkpoint holds the run's identity (a JSON-able dict: the nominal weights'
digest, the inputs, budget and seed), the loop's own state and the state of
each named part (a module or optimizer: ``state_dict``; a generator or a
policy: ``get_state``). Resuming with another run's identity is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from ...autoencoder.model import Autoencoder


def weights_digest(model: Autoencoder) -> str:
    """SHA-256 of a model's weights: a checkpoint belongs to one nominal model."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _state_of(part):
    return part.state_dict() if hasattr(part, "state_dict") else part.get_state()


def save(path: Path, run: dict, state: dict, **parts) -> None:
    """Write ``run``, ``state`` and each part's state to ``path``; an interruption never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    saved = {"run": json.dumps(run, sort_keys=True), "state": state}
    saved.update({name: _state_of(part) for name, part in parts.items()})
    torch.save(saved, tmp)
    os.replace(tmp, path)


def resume(path: Path, run: dict, what: str, **parts) -> dict:
    """Load each part's state from ``path`` and return the loop's state; ValueError for a damaged file or
    another run's checkpoint (``what``: the run's identity in words, for the message)."""
    try:
        saved = torch.load(path, weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise ValueError(f"cannot read checkpoint {path}: {exc or type(exc).__name__}") from None
    if not isinstance(saved, dict) or saved.get("run") != json.dumps(run, sort_keys=True):
        raise ValueError(
            f"checkpoint {path} belongs to another fine-tuning run ({what} differ): use another checkpoint "
            "path or delete it to start afresh"
        )
    for name, part in parts.items():
        if hasattr(part, "load_state_dict"):
            part.load_state_dict(saved[name])
        else:
            part.set_state(saved[name])
    return saved["state"]
