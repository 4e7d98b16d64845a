"""pyadi-iio's CN0566 + Pluto, FMComms5 and QuadMxFE classes against the emulated boards."""

import numpy as np
import pytest

iio = pytest.importorskip("iio", reason="pylibiio is not installed (pip install pylibiio==0.25)")
adi = pytest.importorskip("adi", reason="pyadi-iio is not installed (pip install pylibiio==0.25 pyadi-iio)")

from isac_ae.hw.emulator import (
    ADAR1000_PHASE_STEP_DEG,
    CN0566_ELEMENTS,
    COMM_RADIO,
    SCENE_ATTR,
    LoopbackSource,
)
from tests.helpers import Z


@pytest.fixture
def no_sleep(monkeypatch):
    # CN0566.__init__ sleeps 1.5 s between opening its devices, which a board needs and the emulator does not
    monkeypatch.setattr(adi.cn0566, "sleep", lambda seconds: None)


class RecordingSource(LoopbackSource):
    """A loopback that keeps each capture request it serves."""

    def __init__(self):
        super().__init__(noise_std=0.0)
        self.requests = []

    @property
    def states(self):
        return [request.state for request in self.requests]

    def receive(self, request):
        self.requests.append(request)
        return super().receive(request)


def test_cn0566_steers_its_elements_in_adar1000_phase_steps(emulate, no_sleep):
    source = RecordingSource()
    emulator = emulate("phaser", source=source)
    sdr = adi.ad9361(uri=emulator.uris[1])
    phaser = adi.CN0566(uri=emulator.uris[0], sdr=sdr)
    phaser.configure(device_mode="rx")
    phaser.lo = 10.25e9
    assert phaser.lo == 10.25e9
    phaser.set_chan_phase(0, 10.0, apply_cal=False)
    phase = phaser.elements.get(1).rx_phase
    assert phase % ADAR1000_PHASE_STEP_DEG == 0 and abs(phase - 10.0) <= ADAR1000_PHASE_STEP_DEG / 2
    phaser.set_beam_phase_diff(23.0)
    wanted = [(23.0 * k) % 360 for k in range(8)]
    for k, want in enumerate(wanted):
        got = phaser.elements.get(k + 1).rx_phase
        assert got % ADAR1000_PHASE_STEP_DEG == 0
        assert abs((got - want + 180) % 360 - 180) <= ADAR1000_PHASE_STEP_DEG / 2
    phaser.set_chan_gain(4, 65, apply_cal=False)
    assert phaser.elements.get(5).rx_gain == 65
    # a capture on the Pluto sees the ADAR1000 channels in the element order of the board; one kernel
    # buffer, as CN0566.SDR_init sets, so that the capture is made after the settings
    sdr._rxadc.set_kernel_buffers_count(1)
    sdr.rx_enabled_channels = [0, 1]
    sdr.rx_buffer_size = 256
    assert np.shape(sdr.rx()) == (2, 256)
    state = source.states[-1]
    for label, elements in CN0566_ELEMENTS.items():
        for channel, element in enumerate(elements):
            got = state.number(label, "phase", f"voltage{channel}")
            assert abs((got - wanted[element - 1] + 180) % 360 - 180) <= ADAR1000_PHASE_STEP_DEG / 2
    assert state.number("BEAM0", "hardwaregain", "voltage2") == 65  # element 5 is BEAM0 channel 3
    assert len(phaser.read_monitor()) == 9
    del phaser, sdr


def test_fmcomms5_four_channels_loop_back(emulate):
    latency, n = 20, 2048
    dev = adi.FMComms5(uri=emulate("fmcomms5", latency=latency, gain=1.0, noise_std=0.0).uri)
    dev.rx_lo = 1_000_000_000
    dev.rx_lo_chip_b = 1_500_000_000
    dev.sample_rate = 5_000_000
    assert (dev.rx_lo, dev.rx_lo_chip_b, dev.sample_rate) == (1_000_000_000, 1_500_000_000, 5_000_000)
    dev.gain_control_mode_chip_b_chan1 = "manual"
    dev.rx_hardwaregain_chip_b_chan1 = 40
    assert dev.rx_hardwaregain_chip_b_chan1 == 40
    dev.rx_buffer_size = n
    dev.tx_cyclic_buffer = True
    rng = np.random.default_rng(3)
    tx = [(rng.integers(-2000, 2000, 512) + 1j * rng.integers(-2000, 2000, 512)) * 16 for _ in range(4)]
    dev.tx(tx)
    rx = dev.rx()
    assert len(rx) == 4
    t = np.arange(n)
    for x, words in zip(rx, tx):
        expected = np.where(t >= latency, words[(t - latency) % 512] / 16, 0)
        assert np.max(np.abs(x - expected)) <= 0.5 * np.sqrt(2)
    # closing the TX buffer hands the DAC to the DDS: chip B's TX2 is the radio's fourth channel
    dev.dds_single_tone(625_000, 0.5, 3)  # 5 MS/s / 8
    dev.tx_destroy_buffer()
    dev.rx_destroy_buffer()  # drops the capture the ring made ahead
    rx = dev.rx()
    assert all(np.all(x == 0) for x in rx[:3])
    assert np.argmax(np.abs(np.fft.fft(rx[3]))) == n // 8 and abs(np.max(np.abs(rx[3])) - 1024) <= 1.5
    del dev


def test_quadmxfe_sixteen_channels(emulate):
    q = adi.QuadMxFE(uri=emulate("quadmxfe", noise_std=0.01).uri)
    assert len(q.rx_channel_names) == 32 and len(q.tx_channel_names) == 32
    assert set(q.rx_sample_rate.values()) == {250_000_000}
    nco = {chip: [1_000_000 * (k + 1) for k in range(4)] for chip in q.rx_main_nco_frequencies}
    q.rx_main_nco_frequencies = nco
    assert q.rx_main_nco_frequencies == nco
    q.rx_dsa_gain = -10.2  # 0.5 dB steps
    assert q.rx_dsa_gain == -10
    q.rx_buffer_size = 1024
    rx = q.rx()
    assert len(rx) == 16 and all(x.shape == (1024,) for x in rx)
    # 16-bit words: sigma 0.01 of full scale is 327.68 codes; a sample std has a relative error of 1/sqrt(2n)
    sigma = 0.01 * 32768
    assert abs(np.std(rx[15].real) - sigma) < Z * sigma / np.sqrt(2 * 1024)
    del q


@pytest.mark.parametrize("kernel_buffers, stale", [(4, 1), (1, 0)])
def test_captures_show_the_state_of_their_time(emulate, kernel_buffers, stale):
    """With more than one kernel buffer a capture is made ahead, as a DMA ring holds it: after a
    change, ``stale`` more captures still show the old state."""
    source = RecordingSource()
    emulator = emulate("pluto2", source=source)
    ctx_sdr = adi.ad9361(uri=emulator.uri)
    ctx_sdr._rxadc.set_kernel_buffers_count(kernel_buffers)
    ctx_sdr.rx_buffer_size = 64
    ctx_sdr.rx()
    ctx_sdr._ctrl.debug_attrs[SCENE_ATTR].value = '{"targets": [{"angle_deg": 5}]}'
    scenes = []
    for _ in range(3):
        ctx_sdr.rx()
        scenes.append(bool(source.states[len(scenes) + 1].scene["targets"]))
    assert scenes == [False] * stale + [True] * (3 - stale)
    del ctx_sdr


def test_cn0566_sdr_init_runs_and_its_dds_loops_back(emulate, no_sleep, tmp_path, monkeypatch):
    """ADI's set-up sequence (FDD, one kernel buffer, manual gains, LTE20 filter file, DDS tones)."""
    taps = "\n".join(f"{v},{v}" for v in range(-64, 64))
    (tmp_path / "LTE20_MHz.ftr").write_text(f"TX 3 GAIN 0 INT 2\nRX 3 GAIN -6 DEC 2\n{taps}\n")
    monkeypatch.chdir(tmp_path)  # SDR_init loads the filter by this relative name
    gain = 0.5
    emulator = emulate("phaser", gain=gain, noise_std=0.0)
    sdr = adi.ad9361(uri=emulator.uris[1])
    phaser = adi.CN0566(uri=emulator.uris[0], sdr=sdr)
    phaser.SDR_init(30_000_000, 2.2e9, 2.2e9, 30, -3, 1024)
    assert (sdr.rx_lo, sdr.rx_hardwaregain_chan1) == (2_200_000_000, 30)
    rx = np.asarray(sdr.rx())
    # TX1 and TX2 carry complex tones of scales 0.5 and 0.9; each part is within 1.5 codes
    for x, scale in zip(rx, (0.5, 0.9)):
        assert abs(np.max(np.abs(x)) - gain * scale * 2048) <= 1.5 * np.sqrt(2)
    del phaser, sdr


def test_comm_receiver_is_a_1r1t_pluto_on_its_own_clock(emulate):
    source = RecordingSource()
    emulator = emulate("pluto2", source=source, comm_receiver=True)
    assert len(emulator.uris) == 2
    board, comm = adi.ad9361(uri=emulator.uris[0]), adi.Pluto(uri=emulator.uris[1])
    for sdr in (board, comm):
        sdr._rxadc.set_kernel_buffers_count(1)
        sdr.rx_buffer_size = 128
    board.rx()
    comm.rx()
    comm.rx()
    assert [(r.radio, r.start) for r in source.requests] == [("pluto", 0), (COMM_RADIO, 0), (COMM_RADIO, 128)]
    assert comm._rxadc.find_channel("voltage2") is None  # one complex channel
    del board, comm
