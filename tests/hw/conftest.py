"""Fixtures of the emulator tests: an emulator per test on free ports."""

import pytest

from isac_ae.hw.emulator import Emulator, LoopbackSource


@pytest.fixture
def emulate():
    """emulate(device, **loopback options) -> a started Emulator; all are stopped after the test."""
    started = []

    def start(device="pluto2", latency=50, gain=0.5, noise_std=1e-3, seed=0, source=None, comm_receiver=False):
        source = source or LoopbackSource(latency=latency, gain=gain, noise_std=noise_std, seed=seed)
        emulator = Emulator(device, source=source, comm_receiver=comm_receiver).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
