"""pyadi-iio's adi.ad9361 against the emulated 2R2T Pluto: attributes, RX statistics, TX loopback, scene."""

import json

import numpy as np
import pytest

iio = pytest.importorskip("iio", reason="pylibiio is not installed (pip install pylibiio==0.25)")
adi = pytest.importorskip("adi", reason="pyadi-iio is not installed (pip install pylibiio==0.25 pyadi-iio)")

from isac_ae.hw.emulator import SCENE_ATTR
from tests.helpers import Z

#: RF PLL resolution of the AD9361 at the highest LO divider: 40 MHz / 8388593 / 2, in Hz.
LO_RESOLUTION_HZ = 40e6 / 8_388_593 / 2


def test_attributes_round_trip_with_the_ad9361s_rounding(emulate):
    sdr = adi.ad9361(uri=emulate("pluto2").uri)
    for lo in (70_000_001, 433_920_000, 2_400_000_007, 5_800_123_457):
        sdr.rx_lo = lo
        sdr.tx_lo = lo + 1_000_000
        assert abs(sdr.rx_lo - lo) <= LO_RESOLUTION_HZ
        assert abs(sdr.tx_lo - lo - 1_000_000) <= LO_RESOLUTION_HZ
    sdr.gain_control_mode_chan0 = "manual"
    sdr.gain_control_mode_chan1 = "manual"
    sdr.rx_hardwaregain_chan0 = 30
    sdr.rx_hardwaregain_chan1 = 12.4  # 1 dB steps
    assert (sdr.rx_hardwaregain_chan0, sdr.rx_hardwaregain_chan1) == (30, 12)
    sdr.tx_hardwaregain_chan0 = -10.3  # 0.25 dB steps
    assert sdr.tx_hardwaregain_chan0 == -10.25
    for rate in (1_000_000, 3_000_000, 30_720_000, 61_440_000):
        sdr.sample_rate = rate
        assert sdr.sample_rate == rate
    sdr.rx_rf_bandwidth = 10_000_000
    assert sdr.rx_rf_bandwidth == 10_000_000
    sdr.loopback = 1
    assert sdr.loopback == 1
    del sdr


def test_the_driver_refuses_what_the_ad9361_refuses(emulate):
    ctx = iio.Context(emulate("pluto2").uri)
    phy = ctx.find_device("ad9361-phy")
    rx0 = phy.find_channel("voltage0", False)
    rx0.attrs["gain_control_mode"].value = "slow_attack"
    with pytest.raises(OSError):  # the AGC owns the gain
        rx0.attrs["hardwaregain"].value = "20"
    with pytest.raises(OSError):
        phy.find_channel("altvoltage0", True).attrs["frequency"].value = "7000000000"
    with pytest.raises(OSError):  # below 2.083 MS/s without the FIR decimating by 4
        rx0.attrs["sampling_frequency"].value = "1000000"
    with pytest.raises(OSError):
        rx0.attrs["rssi"].value = "1"
    assert rx0.attrs["sampling_frequency"].value == "30720000"
    del rx0, phy, ctx


def test_rx_buffers_have_the_shape_dtype_and_noise_power(emulate):
    noise_std, n = 0.01, 1 << 15
    sdr = adi.ad9361(uri=emulate("pluto2", noise_std=noise_std).uri)
    sdr.rx_enabled_channels = [0, 1]
    sdr.rx_buffer_size = n
    rx = sdr.rx()
    assert len(rx) == 2
    # each I and Q is a 12-bit code: variance (sigma 2048)^2 plus the rounding's 1/12
    expected = 2 * ((noise_std * 2048) ** 2 + 1 / 12)
    for x in rx:
        assert x.shape == (n,) and x.dtype == np.complex128
        assert np.all(np.abs(x.real) <= 2048) and np.all(x.real == np.round(x.real))
        power = np.mean(np.abs(x) ** 2)
        # |x|^2 of complex Gaussian noise is exponential: its mean has a standard deviation of expected / sqrt(n)
        assert abs(power - expected) < Z * expected / np.sqrt(n)
    assert abs(np.mean(rx[0] * np.conj(rx[1]))) < Z * expected / np.sqrt(n)  # independent channels
    del sdr


def _tx_words(rng, n):
    """Complex TX samples as pyadi-iio sends them: 12-bit codes in the top of 16-bit words."""
    return (rng.integers(-2000, 2000, n) + 1j * rng.integers(-2000, 2000, n)) * 16


def test_cyclic_tx_reaches_rx_delayed_by_the_latency(emulate):
    latency, n_tx, n_rx = 37, 1000, 4096
    sdr = adi.ad9361(uri=emulate("pluto2", latency=latency, gain=[1.0, -0.5j], noise_std=0.0).uri)
    sdr.rx_enabled_channels = [0, 1]
    sdr.tx_enabled_channels = [0, 1]
    sdr.rx_buffer_size = n_rx
    sdr.tx_cyclic_buffer = True
    rng = np.random.default_rng(1)
    tx = [_tx_words(rng, n_tx), _tx_words(rng, n_tx)]
    sdr.tx(tx)
    rx = sdr.rx()
    t = np.arange(n_rx)
    for x, words, gain in zip(rx, tx, (1.0, -0.5j)):
        expected = np.where(t >= latency, gain * words[(t - latency) % n_tx] / 16, 0)
        # the DAC keeps the top 12 bits, the ADC rounds to its code: at most half a code per part
        assert np.max(np.abs(x.real - expected.real)) <= 0.5
        assert np.max(np.abs(x.imag - expected.imag)) <= 0.5
    sdr.tx_destroy_buffer()  # a closed cyclic buffer stops transmitting
    sdr.rx_destroy_buffer()
    assert np.all(sdr.rx()[0] == 0)
    del sdr


def test_one_shot_tx_bursts_play_once_in_order(emulate):
    latency, n = 5, 256
    sdr = adi.ad9361(uri=emulate("pluto2", latency=latency, gain=1.0, noise_std=0.0).uri)
    sdr.tx_enabled_channels = [0]
    sdr.rx_enabled_channels = [0]
    sdr.rx_buffer_size = 4 * n
    rng = np.random.default_rng(2)
    bursts = [_tx_words(rng, n), _tx_words(rng, n)]
    for burst in bursts:
        sdr.tx(burst)
    rx = sdr.rx()
    expected = np.zeros(4 * n, complex)
    expected[latency : latency + 2 * n] = np.concatenate(bursts) / 16
    assert np.max(np.abs(rx - expected)) <= 0.5 * np.sqrt(2)
    del sdr


def test_scene_is_a_json_debug_attribute(emulate):
    emulator = emulate("pluto2")
    ctx = iio.Context(emulator.uri)
    attr = ctx.find_device("ad9361-phy").debug_attrs[SCENE_ATTR]
    assert json.loads(attr.value) == {"targets": []}
    scene = {"targets": [{"angle_deg": -12.5, "range_m": 4}], "comm_angle_deg": 30, "comm_amplitude": 0.1}
    attr.value = json.dumps(scene)
    assert json.loads(attr.value) == scene
    assert emulator.state().scene["targets"][0]["angle_deg"] == -12.5
    for bad in (
        "not json",
        "[1]",
        '{"targets": [{"angle_deg": 120}]}',
        '{"target": []}',
        '{"targets": [{"angle_deg": 1, "rcs": 2}]}',
        '{"comm_amplitude": -1}',
        '{"comm_angle_deg": "30"}',
    ):
        with pytest.raises(OSError):
            attr.value = bad
    assert emulator.state().scene["comm_angle_deg"] == 30
    del attr, ctx


def test_dds_tone_reaches_rx_while_no_tx_buffer_is_open(emulate):
    latency, n = 11, 8192
    sdr = adi.ad9361(uri=emulate("pluto2", latency=latency, gain=1.0, noise_std=0.0).uri)
    rate = sdr.sample_rate
    sdr.dds_single_tone(rate // 64, 0.5, 0)  # a whole number of 16-bit phase steps: 1024 per sample
    assert float(sdr.dds_frequencies[0]) == rate // 64
    sdr.rx_enabled_channels = [0, 1]
    sdr.rx_buffer_size = n
    rx1, rx2 = sdr.rx()
    t = np.arange(n) - latency
    # pyadi-iio's complex tone: I = sin(wt + 90 deg), Q = sin(wt); the DAC truncates to a 12-bit code
    # (up to 1 code) and the ADC rounds (half a code)
    expected = np.where(t >= 0, 0.5 * 2048 * np.exp(2j * np.pi * t / 64), 0)
    assert np.max(np.abs(rx1.real - expected.real)) <= 1.5 and np.max(np.abs(rx1.imag - expected.imag)) <= 1.5
    assert np.all(rx2 == 0)
    sdr.dds_enabled = [0] * 8  # one switch for the core
    sdr.rx_destroy_buffer()  # drops the capture the ring made ahead
    assert np.all(sdr.rx()[0] == 0)
    del sdr
