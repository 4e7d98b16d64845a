"""The pretrained models shipped with the package (the embedded default), and the one list of them.

``models/<sweep>/omega_<w>.safetensors`` (a conditioned model:
``models/<sweep>/conditioned.safetensors``) in the source tree; ``pip install``
copies them to ``<prefix>/share/isac_ae/models`` (pyproject's data-files, one
entry per sweep of :data:`SWEEPS`). ``ISAC_AE_MODELS`` overrides both.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .autoencoder.sweep import CONDITIONED_NAME, DEFAULT_OMEGA, model_filename
from .scenario import Scenario

#: omega_r grids of the paper (Sec. IV-D and IV-E).
FIG2_OMEGAS = (0.0, 0.01, 0.014, 0.015, 0.03, 0.09, 0.15, 0.4, 0.6, 0.7, 1.0)
FIG5_OMEGAS = (0.0, 1e-6, 1e-4, 1e-2, 1.5e-2, 0.03, 0.05, 0.15, 0.4, 0.9, 1.0)
#: Spacing standard deviations of Fig. 5, in wavelengths.
LAMBDA_30, LAMBDA_15 = 1.0 / 30.0, 1.0 / 15.0


@dataclass(frozen=True)
class PretrainedSweep:
    """A named omega_r sweep on one scenario: the models/<name>/ directory and the figure it belongs to."""

    name: str
    scenario: Scenario
    omegas: tuple[float, ...]  # a conditioned model: its default point
    label: str
    figure: str
    conditioned: bool = False  # one model with omega_r as an input (conditioned.safetensors)

    def filenames(self) -> list[str]:
        """The model files of the sweep's directory."""
        return [CONDITIONED_NAME] if self.conditioned else [model_filename(w) for w in self.omegas]


#: Every shipped sweep, by name (the directory under models/). Fig. 5 has the
#: paper's sigma = lambda/30 and lambda/15 under both position models:
#: cumulative p_k = d_0 + ... + d_{k-1} (the paper's text) and scaled p_k = k d_k.
SWEEPS = {
    s.name: s
    for s in (
        PretrainedSweep("nominal", Scenario(), FIG2_OMEGAS, "nominal array", "fig2"),
        PretrainedSweep(
            "spacing_l30", Scenario(spacing_std=LAMBDA_30), FIG5_OMEGAS, "spacing std lambda/30, cumulative", "fig5"
        ),
        PretrainedSweep(
            "spacing_l15", Scenario(spacing_std=LAMBDA_15), FIG5_OMEGAS, "spacing std lambda/15, cumulative", "fig5"
        ),
        PretrainedSweep(
            "spacing_l30_scaled",
            Scenario(spacing_std=LAMBDA_30, position_model="scaled"),
            FIG5_OMEGAS,
            "spacing std lambda/30, scaled (p_k = k d_k)",
            "fig5",
        ),
        PretrainedSweep(
            "spacing_l15_scaled",
            Scenario(spacing_std=LAMBDA_15, position_model="scaled"),
            FIG5_OMEGAS,
            "spacing std lambda/15, scaled (p_k = k d_k)",
            "fig5",
        ),
        # the model of the hardware example over a 2R2T Pluto (examples/hardware)
        PretrainedSweep("pluto2", Scenario(num_antennas=2), (0.09,), "K = 2 (2R2T Pluto), nominal array", "hardware"),
        # the beam the Phaser flowgraphs scan (a K = 8 analog array; its beam as receive weights)
        PretrainedSweep("phaser", Scenario(num_antennas=8), (0.09,), "K = 8 (CN0566 Phaser), nominal", "hardware"),
        # one model for the whole trade-off: omega_r is an input (the GRC example's default)
        PretrainedSweep(
            "conditioned", Scenario(), (DEFAULT_OMEGA,), "omega_r-conditioned, nominal array", "beyond", True
        ),
        # omega_r and both sectors as inputs: the receivers follow the GRC sector sliders too
        PretrainedSweep(
            "sectors", Scenario(), (DEFAULT_OMEGA,), "omega_r- and sector-conditioned, nominal array", "beyond", True
        ),
    )
}


def sweeps_of(figure: str) -> tuple[PretrainedSweep, ...]:
    """The shipped sweeps of ``figure`` ("fig2" or "fig5"), in registry order."""
    return tuple(s for s in SWEEPS.values() if s.figure == figure)


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
    """Directory of the shipped sweep ``name``; KeyError naming the shipped ones if unknown."""
    if name not in SWEEPS:
        raise KeyError(f"unknown pretrained sweep {name!r}; shipped: {', '.join(SWEEPS)}")
    return models_dir() / name
