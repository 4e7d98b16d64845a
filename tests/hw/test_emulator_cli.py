"""python -m isac_ae.hw.emulator: one-line errors with exit code 2, a clean stop on Ctrl-C."""

import pytest

iio = pytest.importorskip("iio", reason="pylibiio is not installed (pip install pylibiio==0.25)")
adi = pytest.importorskip("adi", reason="pyadi-iio is not installed (pip install pylibiio==0.25 pyadi-iio)")

from isac_ae.hw.emulator import Emulator
from isac_ae.hw.emulator.__main__ import main
from isac_ae.hw.emulator.process import EmulatorProcess


@pytest.mark.parametrize(
    "argv",
    [
        ["--device", "pluto3"],
        ["--port", "1"],
        ["--device", "pluto2", "--port", "70000"],
        ["--device", "pluto2", "--seed", "-1"],
        ["--device", "pluto2", "--noise-std", "nan"],
        ["--device", "pluto2", "--bogus"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err


def test_a_busy_port_is_one_line_and_exit_2(capsys):
    with Emulator("pluto2") as busy:
        assert main(["--device", "pluto2", "--port", str(busy.port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot listen" in err


def test_serves_until_interrupted():
    with EmulatorProcess("phaser", comm_receiver=True) as child:
        assert len(child.uris) == 3
        names = [[d.name for d in iio.Context(uri).devices] for uri in child.uris]
        assert names[0] == ["adar1000", "adar1000", "adf4159", "one-bit-adc-dac", "ad7291"]
        assert names[1] == names[2] == ["ad9361-phy", "cf-ad9361-dds-core-lpc", "cf-ad9361-lpc"]
        assert child.stop() == 0
