"""The end of a hardware run held past gr-iio's overflow watcher (isac_ae.blocks.iio_exit).

The hang itself is exercised by tests/hw/test_phaser_flowgraph.py and tests/hw/test_ota_flowgraph.py, whose
runs end in under a second on the twin and hung at exit before the hold."""

import pytest

from isac_ae.blocks import iio_exit
from isac_ae.blocks.iio_exit import MINIMUM_RUN_S, RunClock, watcher_deadlocks


@pytest.mark.parametrize(
    ("version", "deadlocks"),
    [("3.10.5.1", True), ("3.10.9.2", True), ("3.10.10.0", False), ("3.10.12.0", False), ("3.9.8.0", False)],
)
def test_the_versions_with_the_deadlock_are_3_10_before_3_10_10(version, deadlocks):
    assert watcher_deadlocks(version) is deadlocks


class FakeTime:
    """time.monotonic and time.sleep on a clock the test moves."""

    def __init__(self):
        self.now = 100.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(iio_exit.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(iio_exit.time, "sleep", fake.sleep)
    return fake


def test_a_short_run_is_held_until_it_has_lasted_the_minimum(clock):
    run = RunClock("3.10.5.1")
    run.start()
    clock.now += 0.3
    assert run.hold_end() == pytest.approx(MINIMUM_RUN_S - 0.3)
    assert clock.now == pytest.approx(100.0 + MINIMUM_RUN_S)


def test_a_long_run_or_a_fixed_gr_iio_is_not_held(clock):
    long_run = RunClock("3.10.5.1")
    long_run.start()
    clock.now += MINIMUM_RUN_S + 1
    assert long_run.hold_end() == 0.0
    fixed = RunClock("3.10.12.0")
    fixed.start()
    assert fixed.hold_end() == 0.0
    assert RunClock("3.10.5.1").hold_end() == 0.0  # never started: nothing to outlast
