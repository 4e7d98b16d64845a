"""The malloc tuning that training applies (glibc): freed tensors stay in the process."""

import ctypes
import os
import sys

import pytest
import torch

from isac_ae.autoencoder.allocator import keep_freed_memory


def _glibc() -> bool:
    return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not _glibc(), reason="needs glibc")
def test_freed_tensors_stay_in_the_process():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # a second call is harmless
    block = torch.ones(4 << 20)  # 16 MB, every page touched
    resident = _resident_bytes()
    del block
    # Handed back to the kernel, the 16 MB would leave the resident set (and fault in again next step).
    assert resident - _resident_bytes() < (4 << 20)
