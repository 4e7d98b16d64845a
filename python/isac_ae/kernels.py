"""Access to the compiled C++ kernels (the CMake part of the build).

The core never needs them; GNU Radio blocks and benchmarks do. A missing build
raises one clear ImportError instead of a bare "No module named" deep inside.
"""

from __future__ import annotations


def load():
    """Return the pybind11 module ``isac_ae.isac_ae_python``."""
    try:
        from . import isac_ae_python
    except ImportError as exc:
        raise ImportError(
            "the gr-isac_ae C++ kernels are not built or not installed in this environment "
            f"({exc}); run `make setup` (needs Debian's gnuradio-dev) and use the venv's python"
        ) from exc
    return isac_ae_python
