"""The pretrained models shipped with the package (the embedded default).

``models/<sweep>/omega_<w>.safetensors`` in the source tree; ``pip install``
copies them to ``<prefix>/share/isac_ae/models``. ``ISAC_AE_MODELS`` overrides
both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The shipped sweeps: name -> description.
SWEEPS = {
    "nominal": "ideal lambda/2 array, omega_r grid of Fig. 2",
    "spacing_l30": "spacing impairment sigma = lambda/30 (cumulative model, seed 0), omega_r grid of Fig. 5",
}

#: omega_r grids of the paper (Sec. IV-D and IV-E).
FIG2_OMEGAS = (0.0, 0.01, 0.014, 0.015, 0.03, 0.09, 0.15, 0.4, 0.6, 0.7, 1.0)
FIG5_OMEGAS = (0.0, 1e-6, 1e-4, 1e-2, 1.5e-2, 0.03, 0.05, 0.15, 0.4, 0.9, 1.0)


def models_dir() -> Path:
    """Directory holding the shipped sweeps; raises FileNotFoundError naming the places searched."""
    candidates = []
    if os.environ.get("ISAC_AE_MODELS"):
        candidates.append(Path(os.environ["ISAC_AE_MODELS"]))
    candidates.append(Path(__file__).resolve().parents[2] / "models")  # source checkout
    candidates.append(Path(sys.prefix) / "share" / "isac_ae" / "models")  # pip install
    for path in candidates:
        if any(path.glob("*/*.safetensors")):
            return path
    raise FileNotFoundError("no pretrained models found in " + ", ".join(str(p) for p in candidates))


def sweep_dir(name: str) -> Path:
    if name not in SWEEPS:
        raise KeyError(f"unknown pretrained sweep {name!r}; shipped: {', '.join(SWEEPS)}")
    return models_dir() / name
