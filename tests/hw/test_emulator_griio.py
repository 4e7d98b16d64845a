"""gr-iio's FMComms2 source streams from the emulator in a headless flowgraph."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import Z

pytest.importorskip("gnuradio.iio", reason="gr-iio (GNU Radio's iio module) cannot be imported")

# gr-iio calls libiio while holding the GIL, so the flowgraphs run in a child process; the child
# leaves with os._exit because gr-iio 3.10.5's source destructor waits forever for its overflow
# thread when the stream lasted less than the thread's 1 s polling period.
FLOWGRAPHS = """
import json, os, sys
import numpy as np
from gnuradio import blocks, gr, iio
uri, n = sys.argv[1], int(sys.argv[2])
# a cyclic TX buffer on TX1 (a tone at fs/64), pushed once; it plays until the sink is destroyed
tone = 0.5 * np.exp(2j * np.pi * np.arange(1024) / 64)
tx = gr.top_block()
snk = iio.fmcomms2_sink_fc32(uri, [True, True, False, False], 1024, True)
snk.set_samplerate(4_000_000)
tx.connect(blocks.vector_source_c(list(tone), False), (snk, 0))
tx.run()
rx = gr.top_block()
src = iio.fmcomms2_source_fc32(uri, [True, True, True, True], 8192)
src.set_frequency(2_400_000_000)
src.set_samplerate(4_000_000)
src.set_gain_mode(0, "manual")
src.set_gain(0, 30)
src.set_filter_params("Auto", "", 0, 0)
heads = [blocks.head(gr.sizeof_gr_complex, n) for _ in range(2)]
sinks = [blocks.vector_sink_c() for _ in range(2)]
for k in range(2):
    rx.connect((src, k), heads[k], sinks[k])
rx.run()
data = [np.array(s.data()) for s in sinks]
print(json.dumps({"n": [len(d) for d in data], "power": [float(np.mean(np.abs(d) ** 2)) for d in data],
                  "peak_bin": int(np.argmax(np.abs(np.fft.fft(data[0][-65536:]))))}), flush=True)
os._exit(0)
"""


def test_fmcomms2_sink_and_source_through_the_loopback(emulate):
    noise_std, gain, n = 0.01, 0.5, 200_000
    emulator = emulate("pluto2", noise_std=noise_std, gain=gain)
    child = subprocess.run(
        [sys.executable, "-c", FLOWGRAPHS, emulator.uri, str(n)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["n"] == [n, n]
    # gr-iio scales the 12-bit codes by 1/2048: back to full scale 1; RX2 hears noise and the code rounding
    noise = 2 * (noise_std**2 + 1 / 12 / 2048**2)
    assert abs(result["power"][1] - noise) < Z * noise / np.sqrt(n)
    # RX1 hears TX1's tone (amplitude 0.5 x gain) on top: at bin 65536/64 of an FFT of 65536 samples
    assert result["peak_bin"] == 65536 // 64
    tone = (0.5 * gain) ** 2
    # the DAC drops up to one 12-bit code per part (times the gain), the ADC rounds to half a code:
    # |e| <= sqrt(2) (gain + 0.5) / 2048, which moves |s|^2 by at most 2 |s| |e| + |e|^2
    error = np.sqrt(2) * (gain + 0.5) / 2048
    quantisation = 2 * np.sqrt(tone) * error + error**2
    # |s + w|^2 has mean |s|^2 + E|w|^2 and variance 2 |s|^2 E|w|^2 + (E|w|^2)^2 (w circular Gaussian)
    spread = np.sqrt(2 * tone * noise + noise**2) / np.sqrt(n)
    assert abs(result["power"][0] - tone - noise) < Z * spread + quantisation
    state = emulator.state()
    assert state.value("ad9361-phy", "sampling_frequency", "voltage0") == "4000000"
    assert state.value("ad9361-phy", "frequency", "altvoltage0", output=True) == "2400000000"
    assert state.value("ad9361-phy", "hardwaregain", "voltage0") == "30.000000 dB"
