"""Keep freed memory inside the process during CPU training (glibc's malloc).

A training step allocates and frees tensors of a few MB several hundred
times. By default glibc hands such blocks back to the kernel (mmap'ed blocks,
heap trimming), so the next step page-faults them in again: about a fifth of
a step on the 2-core reference machine (docs/PERFORMANCE.md). The mallopt(3)
settings below keep them; they are what MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_ and MALLOC_TOP_PAD_ in the environment would set. The
price: the process keeps its peak heap until it exits.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_SETTINGS = (
    (_M_MMAP_THRESHOLD, 32 << 20),  # glibc's largest: every tensor of a step comes from the heap
    (_M_TRIM_THRESHOLD, 1 << 30),  # and the heap is not given back
    (_M_TOP_PAD, 64 << 20),  # and grows in large steps
)
_applied = False


def keep_freed_memory() -> bool:
    """Apply the settings (once per process). Returns whether they are in force (False off glibc)."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    _applied = all(mallopt(param, value) == 1 for param, value in _SETTINGS)
    return _applied
