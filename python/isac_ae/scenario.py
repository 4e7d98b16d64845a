"""The ISAC scenario: every physical parameter of the paper, as data.

Angles are given in degrees here (the user-facing surface) and exposed in
radians through the ``*_rad`` properties used by the numerical code.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np

POSITION_MODELS = ("cumulative", "scaled")
#: Largest K: the C++ blocks' limit (lib/params.h, check_K), so every scenario runs in both.
MAX_ANTENNAS = 4096
#: Largest |M|: the C++ ML detector's limit on constellation points (lib/ml_detector_impl.cc).
MAX_MESSAGES = 256
#: Largest |SNR| in dB: the C++ channels' limit (lib/params.h, check_snr); 10^(SNR/10) stays finite.
MAX_ABS_SNR_DB = 200.0
#: Largest spacing std, wavelengths: the nominal spacing itself; beyond it the "spacing
#: error" is no longer a perturbation of the lambda/2 array.
MAX_SPACING_STD = 0.5


class ScenarioError(ValueError):
    """A scenario parameter is outside its valid range."""


@dataclass(frozen=True)
class Scenario:
    """Parameters of the single-target radar / single-user MISO comm problem.

    Defaults are the paper's (Sec. IV-A): K = 16, |M| = 4, SNR_c = 20 dB,
    SNR_r = 0 dB, comm sector [30°, 50°], target sector [-20°, 20°],
    p(t = 1) = 1/2, Pfa = 1e-2, E||y||^2 = 1, noise power N0 = 1.

    ``spacing_std`` (wavelengths) and ``impairment_seed`` describe the
    inter-element spacing impairment of Sec. IV-E; ``position_model`` says how
    the drawn spacings d_k become positions (see :mod:`isac_ae.array`).

    Bounds (:class:`ScenarioError` otherwise): K an integer in [1, 4096] and
    |M| an integer in [2, 256], the limits of the C++ blocks (lib/params.h
    check_K, the ML detector's constellation size); SNRs in [-200, 200] dB
    (lib/params.h check_snr); sectors within [-90°, 90°], min <= max;
    p_target in [0, 1]; Pfa in (0, 1); spacing_std in [0, 0.5] wavelengths;
    impairment_seed a non-negative integer (NumPy's seeds).
    """

    num_antennas: int = 16
    num_messages: int = 4
    snr_comm_db: float = 20.0
    snr_radar_db: float = 0.0
    target_sector_deg: tuple[float, float] = (-20.0, 20.0)
    comm_sector_deg: tuple[float, float] = (30.0, 50.0)
    p_target: float = 0.5
    pfa: float = 1e-2
    spacing_std: float = 0.0
    impairment_seed: int = 0
    position_model: str = "cumulative"

    def __post_init__(self):
        # Normalise types first (JSON and NumPy give lists, floats for ints, np.int64...): the
        # object stays hashable and serialisable, and a wrong type is a ScenarioError, not a TypeError.
        for name in ("num_antennas", "num_messages", "impairment_seed"):
            object.__setattr__(self, name, _integer(name, getattr(self, name)))
        for name in ("snr_comm_db", "snr_radar_db", "p_target", "pfa", "spacing_std"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        for name in ("target_sector_deg", "comm_sector_deg"):
            object.__setattr__(self, name, _sector(name, getattr(self, name)))
        if not isinstance(self.position_model, str):
            raise ScenarioError(f"position_model must be a string, got {self.position_model!r}")
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ScenarioError` naming the first invalid parameter."""
        if not 1 <= self.num_antennas <= MAX_ANTENNAS:
            raise ScenarioError(f"K (num_antennas) must be an integer in [1, {MAX_ANTENNAS}], got {self.num_antennas}")
        if not 2 <= self.num_messages <= MAX_MESSAGES:
            raise ScenarioError(
                f"|M| (num_messages) must be an integer in [2, {MAX_MESSAGES}], got {self.num_messages}"
            )
        for name in ("snr_comm_db", "snr_radar_db", "spacing_std"):
            if not math.isfinite(getattr(self, name)):
                raise ScenarioError(f"{name} must be finite, got {getattr(self, name)}")
        for name in ("snr_comm_db", "snr_radar_db"):
            if abs(getattr(self, name)) > MAX_ABS_SNR_DB:
                raise ScenarioError(
                    f"{name} must lie in [-{MAX_ABS_SNR_DB:g}, {MAX_ABS_SNR_DB:g}] dB, got {getattr(self, name)}"
                )
        for name in ("target_sector_deg", "comm_sector_deg"):
            lo, hi = getattr(self, name)
            if not (-90.0 <= lo <= 90.0 and -90.0 <= hi <= 90.0):
                raise ScenarioError(f"{name} angles must lie in [-90, 90] degrees, got {(lo, hi)}")
            if lo > hi:
                raise ScenarioError(f"{name}: min ({lo}) must not exceed max ({hi})")
        if not 0.0 <= self.p_target <= 1.0:
            raise ScenarioError(f"p_target must lie in [0, 1], got {self.p_target}")
        if not 0.0 < self.pfa < 1.0:
            raise ScenarioError(f"Pfa must lie in (0, 1), got {self.pfa}")
        if not 0.0 <= self.spacing_std <= MAX_SPACING_STD:
            raise ScenarioError(f"spacing_std must lie in [0, {MAX_SPACING_STD:g}] wavelengths, got {self.spacing_std}")
        if self.impairment_seed < 0:
            raise ScenarioError(f"impairment_seed must be a non-negative integer, got {self.impairment_seed}")
        if self.position_model not in POSITION_MODELS:
            raise ScenarioError(f"position_model must be one of {POSITION_MODELS}, got {self.position_model!r}")

    # --- derived quantities -------------------------------------------------
    @property
    def noise_power(self) -> float:
        """N0 (linear). Fixed to 1: the SNRs set the channel gain variances."""
        return 1.0

    @property
    def radar_gain_var(self) -> float:
        """sigma_r^2 = SNR_r * N0 (linear)."""
        return 10.0 ** (self.snr_radar_db / 10.0) * self.noise_power

    @property
    def comm_gain_var(self) -> float:
        """sigma_c^2 = SNR_c * N0 (linear)."""
        return 10.0 ** (self.snr_comm_db / 10.0) * self.noise_power

    @property
    def target_sector_rad(self) -> tuple[float, float]:
        return tuple(math.radians(a) for a in self.target_sector_deg)

    @property
    def comm_sector_rad(self) -> tuple[float, float]:
        return tuple(math.radians(a) for a in self.comm_sector_deg)

    @property
    def theta_vector(self) -> np.ndarray:
        """Theta = [theta_min, theta_max, vartheta_min, vartheta_max] in radians, shape (4,)."""
        return np.array(self.target_sector_rad + self.comm_sector_rad)

    def nominal_positions(self) -> np.ndarray:
        """Element positions of the ideal lambda/2 array, wavelengths, shape (K,)."""
        from .array import nominal_positions

        return nominal_positions(self.num_antennas)

    def true_positions(self) -> np.ndarray:
        """Element positions of the (possibly impaired) physical array, wavelengths, shape (K,)."""
        from .array import impaired_positions

        return impaired_positions(self.num_antennas, self.spacing_std, self.impairment_seed, self.position_model)

    # --- (de)serialisation for model files and JSON output -------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Scenario":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ScenarioError(f"unknown scenario fields: {sorted(unknown)}")
        return cls(**data)

    def replace(self, **changes) -> "Scenario":
        return dataclasses.replace(self, **changes)


def _integer(name: str, value) -> int:
    # bool is an Integral, but True antennas is a mistake, not a count.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScenarioError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScenarioError(f"{name} must be a number, got {value!r}")
    return float(value)


def _sector(name: str, value) -> tuple[float, float]:
    """(min, max) in degrees as a tuple of floats (lists come from JSON)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ScenarioError(f"{name} must be (min, max) in degrees, got {value!r}")
    return tuple(_real(name, a) for a in value)
