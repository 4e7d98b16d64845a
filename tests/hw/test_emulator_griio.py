"""gr-iio's FMComms2 source streams from the emulator in a headless flowgraph."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import Z

pytest.importorskip("gnuradio.iio", reason="gr-iio (GNU Radio's iio module) cannot be imported")

# gr-iio calls libiio while holding the GIL, so the flowgraph runs in a child process; the child
# leaves with os._exit because gr-iio 3.10.5's source destructor waits forever for its overflow
# thread when the stream lasted less than the thread's 1 s polling period.
FLOWGRAPH = """
import json, os, sys
import numpy as np
from gnuradio import blocks, gr, iio
uri, n = sys.argv[1], int(sys.argv[2])
tb = gr.top_block()
src = iio.fmcomms2_source_fc32(uri, [True, True, True, True], 8192)
src.set_frequency(2_400_000_000)
src.set_samplerate(4_000_000)
src.set_gain_mode(0, "manual")
src.set_gain(0, 30)
src.set_filter_params("Auto", "", 0, 0)
heads = [blocks.head(gr.sizeof_gr_complex, n) for _ in range(2)]
sinks = [blocks.vector_sink_c() for _ in range(2)]
for k in range(2):
    tb.connect((src, k), heads[k], sinks[k])
tb.run()
data = [np.array(s.data()) for s in sinks]
print(json.dumps({"n": [len(d) for d in data], "power": [float(np.mean(np.abs(d) ** 2)) for d in data]}), flush=True)
os._exit(0)
"""


def test_fmcomms2_source_reads_n_samples(emulate):
    noise_std, n = 0.01, 200_000
    emulator = emulate("pluto2", noise_std=noise_std)
    child = subprocess.run([sys.executable, "-c", FLOWGRAPH, emulator.uri, str(n)], capture_output=True,
                           text=True, timeout=120, check=False)
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["n"] == [n, n]
    # gr-iio scales the 12-bit codes by 1/2048: back to full scale 1, plus the code rounding
    expected = 2 * (noise_std ** 2 + 1 / 12 / 2048 ** 2)
    for power in result["power"]:
        assert abs(power - expected) < Z * expected / np.sqrt(n)
    state = emulator.state()
    assert state.value("ad9361-phy", "sampling_frequency", "voltage0") == "4000000"
    assert state.value("ad9361-phy", "frequency", "altvoltage0", output=True) == "2400000000"
    assert state.value("ad9361-phy", "hardwaregain", "voltage0") == "30.000000 dB"
