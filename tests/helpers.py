"""Statistical tolerances shared by the tests: derived from the sample size, never hand-tuned."""

import numpy as np

#: Width of every normal-approximation interval, in standard deviations. With
#: fixed seeds the tests are deterministic; 5 sigma keeps a change of seed from
#: producing a false failure (two-sided tail 5.7e-7).
Z = 5.0


def proportion_tolerance(p: float, n: int, z: float = Z) -> float:
    """Half-width of a z-sigma interval for a proportion p estimated from n trials."""
    return z * np.sqrt(p * (1.0 - p) / n)
