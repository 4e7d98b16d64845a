"""Model files: one member's weights in safetensors with JSON metadata in its header.

One file holds everything a block or command needs: the tensors of the six
networks and, under the header key ``isac_ae``, a JSON object with the
scenario the model was trained for (including the true element positions in
wavelengths), omega_r, the training configuration and the package version.
Nothing is unpickled, so a model file cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from .. import __version__
from ..scenario import Scenario, ScenarioError
from .model import Autoencoder

FORMAT = "isac_ae.autoencoder"
FORMAT_VERSION = 1
HEADER_KEY = "isac_ae"


class ModelFileError(Exception):
    """A model file is missing, unreadable, or does not fit the requested scenario."""


@dataclass
class LoadedModel:
    """A model read from disk: the one-member network, its scenario and its metadata."""

    model: Autoencoder
    scenario: Scenario
    metadata: dict
    path: Path

    @property
    def omega(self) -> float:
        return float(self.metadata["omega"])


def save_model(path: Path, model: Autoencoder, scenario: Scenario, omega: float, training: dict) -> Path:
    """Write a one-member ``model`` trained on ``scenario`` with ``omega`` to ``path`` (.safetensors)."""
    if model.members != 1:
        raise ValueError("save one member at a time (Autoencoder.member(i))")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "num_antennas": model.num_antennas,
        "num_messages": model.num_messages,
        "omega": float(omega),
        "scenario": scenario.to_dict(),
        "true_positions_wavelengths": [float(p) for p in scenario.true_positions()],
        "training": training,
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(metadata)})
    tmp.replace(path)
    return path


def read_metadata(path: Path) -> dict:
    """The JSON metadata of a model file, without loading its weights."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is not a readable model file: {exc}") from exc
    if HEADER_KEY not in header:
        raise ModelFileError(f"{path} is a safetensors file without isac_ae metadata")
    try:
        metadata = json.loads(header[HEADER_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt metadata: {exc}") from exc
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model format {metadata.get('format')!r} "
            f"version {metadata.get('format_version')!r} (this is {FORMAT} version {FORMAT_VERSION})"
        )
    return metadata


def scenario_mismatch(expected: Scenario, found: Scenario) -> list[str]:
    """Human-readable differences between two scenarios, empty when they agree."""
    a, b = expected.to_dict(), found.to_dict()
    return [f"{k}: model {b[k]!r}, requested {a[k]!r}" for k in a if a[k] != b.get(k)]


def load_model(path: Path, scenario: Optional[Scenario] = None, device="cpu") -> LoadedModel:
    """Read a model file; with ``scenario``, refuse a model trained for a different one."""
    path = Path(path)
    metadata = read_metadata(path)
    try:
        trained_for = Scenario.from_dict(metadata["scenario"])
    except (KeyError, TypeError, ScenarioError) as exc:
        raise ModelFileError(f"{path}: invalid scenario in metadata: {exc}") from exc
    if scenario is not None:
        diff = scenario_mismatch(scenario, trained_for)
        if diff:
            raise ModelFileError(f"{path} was trained for another scenario ({'; '.join(diff)})")
    model = Autoencoder(trained_for.num_antennas, trained_for.num_messages, members=1)
    try:
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ModelFileError(f"{path}: weights do not fit K={trained_for.num_antennas}, "
                             f"|M|={trained_for.num_messages}: {exc}") from exc
    return LoadedModel(model.to(device).eval(), trained_for, metadata, path)
