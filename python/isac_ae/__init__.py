"""gr-isac_ae: end-to-end learned integrated sensing and communication.

The core (scenario, array, channels, baselines, evaluation) imports without
GNU Radio; the GNU Radio blocks live in :mod:`isac_ae.blocks` and need it.
"""

from .scenario import Scenario, ScenarioError

__version__ = "0.1.0"
__all__ = ["Scenario", "ScenarioError", "__version__"]
