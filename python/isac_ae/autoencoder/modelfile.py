"""Model files: one member's weights in safetensors with JSON metadata in its header.

One file holds everything a block or command needs: the tensors of the six
networks and, under the header key ``isac_ae``, a JSON object with the
scenario the model was trained for (including the true element positions in
wavelengths), omega_r, the training configuration, the package version, the
git commit of the source and the command that trained it (the last two are
optional on read: files written before they were recorded lack them).
Nothing is unpickled, so a model file cannot run code.

Loading trusts nothing in the file: every metadata field used is checked for
presence and type, the recorded positions must equal the ones its scenario
draws now, and the tensor names and shapes (read from the safetensors header,
without loading) must be those of its K and |M| before any network is built.
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .. import __version__
from ..scenario import Scenario, ScenarioError
from .model import OMEGA_FEATURES, SECTOR_FEATURES, Autoencoder

FORMAT = "isac_ae.autoencoder"
FORMAT_VERSION = 1
HEADER_KEY = "isac_ae"
#: Largest difference, wavelengths, between the recorded and the recomputed element positions.
POSITION_TOLERANCE = 1e-9


#: The inputs a conditioned model's metadata names: omega_r alone, or omega_r and the two sectors.
OMEGA_INPUTS = ["omega_r"]
SECTOR_INPUTS = ["omega_r", "target_sector", "comm_sector"]


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
        """omega_r it was trained for; a conditioned model's default point."""
        return float(self.metadata["omega"])

    @property
    def conditioned(self) -> bool:
        return self.model.conditioned

    @property
    def sector_conditioned(self) -> bool:
        return self.model.sector_conditioned


def save_model(
    path: Path, model: Autoencoder, scenario: Scenario, omega: float, training: dict, command: Optional[str] = None
) -> Path:
    """Write a one-member ``model`` trained on ``scenario`` with ``omega`` to ``path`` (.safetensors).

    ``command``: how the model was trained, recorded as given (the CLI passes
    its command line); by default the calling process's ``sys.argv``, marked
    as a library call. Refuses (ValueError) weights that are not finite.
    """
    if model.members != 1:
        raise ValueError("save one member at a time (Autoencoder.member(i))")
    if model.conditioned and "conditioning" not in training:
        raise ValueError("a conditioned model's training record needs its 'conditioning'")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    diverged = [k for k, v in tensors.items() if not torch.isfinite(v).all()]
    if diverged:
        raise ValueError(f"refusing to save a model with non-finite weights (in {diverged[0]}): training diverged")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "git_commit": source_commit(),
        "command": command if command is not None else f"library call from: {shlex.join(sys.argv)}",
        "num_antennas": model.num_antennas,
        "num_messages": model.num_messages,
        "omega": float(omega),
        "scenario": scenario.to_dict(),
        "true_positions_wavelengths": [float(p) for p in scenario.true_positions()],
        "training": training,
    }
    if model.conditioned:
        metadata["conditioning"] = {
            "inputs": SECTOR_INPUTS if model.sector_conditioned else OMEGA_INPUTS,
            "features": model.conditions,
            "hidden_scale": model.hidden_scale,
            **training["conditioning"],
        }
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(metadata)})
    tmp.replace(path)
    return path


def source_commit() -> str:
    """The git commit of the checkout this module runs from ("<sha>-dirty" with local changes), or "unknown".

    "unknown" whenever that cannot be told for sure: git missing, not a
    checkout, or an installed copy (a venv inside a checkout is not its source).
    """
    here = Path(__file__).resolve()

    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(["git", "-C", str(here.parent), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if git("ls-files", "--error-unmatch", here.name) is None:  # this file is not tracked source
        return "unknown"
    commit = git("rev-parse", "HEAD")
    if not commit:
        return "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", str(here.parents[1]))
    return f"{commit}-dirty" if changed else commit


def read_metadata(path: Path) -> dict:
    """The checked JSON metadata of a model file, without loading its weights.

    ModelFileError (with the reason) when the file is missing, a directory,
    unreadable, of another format; when its metadata is not an object, lacks a
    field or has one of the wrong type; when its scenario is invalid or its
    recorded element positions differ from the ones the scenario draws now.
    """
    path = Path(path)
    return _parse_metadata(path, _header(path)[0])[0]


def scenario_mismatch(expected: Scenario, found: Scenario) -> list[str]:
    """Human-readable differences between two scenarios, empty when they agree."""
    a, b = expected.to_dict(), found.to_dict()
    return [f"{k}: model {b[k]!r}, requested {a[k]!r}" for k in a if a[k] != b.get(k)]


def load_model(path: Path, scenario: Optional[Scenario] = None, device="cpu") -> LoadedModel:
    """Read a model file; with ``scenario``, refuse a model trained for a different one.

    Everything :func:`read_metadata` checks, then the tensor names and shapes
    against the scenario's K and |M| (before any network is built or any
    weight is read), then that the weights are finite.
    """
    path = Path(path)
    header, shapes = _header(path)
    metadata, trained_for = _parse_metadata(path, header)
    if scenario is not None:
        diff = scenario_mismatch(scenario, trained_for)
        if diff:
            raise ModelFileError(f"{path} was trained for another scenario ({'; '.join(diff)})")
    arch = _architecture(path, metadata)
    _check_shapes(path, shapes, trained_for, arch)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{path}: cannot read the weights: {exc}") from exc
    bad = [k for k, v in tensors.items() if not torch.isfinite(v).all()]
    if bad:
        raise ModelFileError(f"{path}: non-finite weights in {bad[0]}")
    model = Autoencoder(trained_for.num_antennas, trained_for.num_messages, 1, *arch)
    model.load_state_dict(tensors)
    return LoadedModel(model.to(device).eval(), trained_for, metadata, path)


# --- checks -------------------------------------------------------------------------------------


def _header(path: Path) -> tuple[dict, dict[str, tuple[int, ...]]]:
    """The safetensors header's metadata map and every tensor's shape, without reading the weights."""
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is not a readable model file: {exc}") from exc
    return header, shapes


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Required metadata fields beyond format and version: (check, what the check wants).
_FIELDS = {
    "num_antennas": (_is_int, "an integer"),
    "num_messages": (_is_int, "an integer"),
    "omega": (_is_number, "a number"),
    "scenario": (lambda v: isinstance(v, dict), "an object"),
    "true_positions_wavelengths": (lambda v: isinstance(v, list), "a list"),
    "training": (lambda v: isinstance(v, dict), "an object"),
}
#: Optional string fields (absent from files written before they were recorded).
_OPTIONAL_STRINGS = ("package_version", "git_commit", "command")


def _parse_metadata(path: Path, header: dict) -> tuple[dict, Scenario]:
    """The checked metadata and the scenario it describes; ModelFileError naming the first defect."""
    if HEADER_KEY not in header:
        raise ModelFileError(f"{path} is a safetensors file without isac_ae metadata")
    try:
        metadata = json.loads(header[HEADER_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: corrupt metadata: {exc}") from exc
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object, got {type(metadata).__name__}")
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported model format {metadata.get('format')!r} "
            f"version {metadata.get('format_version')!r} (this is {FORMAT} version {FORMAT_VERSION})"
        )
    for name, (ok, kind) in _FIELDS.items():
        if name not in metadata:
            raise ModelFileError(f"{path}: metadata lacks {name!r}")
        if not ok(metadata[name]):
            raise ModelFileError(f"{path}: metadata field {name!r} must be {kind}, got {_short(metadata[name])}")
    for name in _OPTIONAL_STRINGS:
        if name in metadata and not isinstance(metadata[name], str):
            raise ModelFileError(f"{path}: metadata field {name!r} must be a string, got {_short(metadata[name])}")
    if not 0.0 <= metadata["omega"] <= 1.0:
        raise ModelFileError(f"{path}: omega must lie in [0, 1], got {metadata['omega']}")
    try:
        scenario = Scenario.from_dict(metadata["scenario"])
    except (TypeError, ScenarioError) as exc:
        raise ModelFileError(f"{path}: invalid scenario in metadata: {exc}") from exc
    if (metadata["num_antennas"], metadata["num_messages"]) != (scenario.num_antennas, scenario.num_messages):
        raise ModelFileError(
            f"{path}: metadata says K={metadata['num_antennas']}, |M|={metadata['num_messages']} "
            f"but its scenario has K={scenario.num_antennas}, |M|={scenario.num_messages}"
        )
    _check_positions(path, metadata["true_positions_wavelengths"], scenario)
    return metadata, scenario


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_positions(path: Path, recorded: list, scenario: Scenario) -> None:
    """The recorded element positions must be the ones the scenario draws now (same random stream)."""
    if len(recorded) != scenario.num_antennas or not all(_is_number(p) and math.isfinite(p) for p in recorded):
        raise ModelFileError(f"{path}: true_positions_wavelengths must be K={scenario.num_antennas} finite numbers")
    now = scenario.true_positions()
    error, k = max((abs(p - float(q)), k) for k, (p, q) in enumerate(zip(recorded, now)))
    if error > POSITION_TOLERANCE:
        raise ModelFileError(
            f"{path}: its recorded element positions differ from the ones its scenario draws now "
            f"(element {k}: {recorded[k]!r} recorded, {float(now[k])!r} now, wavelengths): the spacing "
            "impairment's random draw has changed since the model was trained"
        )


def _architecture(path: Path, metadata: dict) -> tuple[int, int]:
    """(condition inputs, hidden scale) of the networks: (0, 1) unless the model is conditioned."""
    conditioning = metadata.get("conditioning")
    if conditioning is None:
        return 0, 1
    known = {tuple(OMEGA_INPUTS): OMEGA_FEATURES, tuple(SECTOR_INPUTS): OMEGA_FEATURES + SECTOR_FEATURES}
    features = known.get(tuple(conditioning.get("inputs", ()))) if isinstance(conditioning, dict) else None
    if not (
        features is not None
        and conditioning.get("features") == features
        and _is_int(conditioning.get("hidden_scale"))
        and 1 <= conditioning["hidden_scale"] <= 64
    ):
        raise ModelFileError(
            f"{path}: unsupported conditioning {_short(conditioning)} (this version reads conditioning on "
            f"{OMEGA_INPUTS} ({OMEGA_FEATURES} features) or {SECTOR_INPUTS} ({OMEGA_FEATURES + SECTOR_FEATURES}))"
        )
    return features, conditioning["hidden_scale"]


def _check_shapes(path: Path, shapes: dict[str, tuple[int, ...]], scenario: Scenario, arch=(0, 1)) -> None:
    """The tensors must be exactly those of a one-member model for the scenario's K and |M| (and architecture)."""
    k, m = scenario.num_antennas, scenario.num_messages
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {name: tuple(t.shape) for name, t in Autoencoder(k, m, 1, *arch).state_dict().items()}
    missing, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{path}: tensors do not fit K={k}, |M|={m}: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        if shapes[name] != shape:
            raise ModelFileError(
                f"{path}: weights do not fit K={k}, |M|={m}: tensor {name} has shape "
                f"{list(shapes[name])}, expected {list(shape)}"
            )
