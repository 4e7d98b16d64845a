"""The Phaser beampattern flowgraph (examples/hardware/isac_phaser_beampattern_no_gui.grc: a learned K = 8
beam scanned on the CN0566 through pyadi-iio, gr-iio's source and sink on its Pluto) against a Phaser twin
behind the emulator, and the same twin's truth."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gnuradio.iio", reason="gr-iio (GNU Radio's iio module) cannot be imported")
pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from isac_ae.array import nominal_positions, steering_matrix  # noqa: E402
from isac_ae.cli import main  # noqa: E402
from isac_ae.hw.emulator import Emulator  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402
from isac_ae.impairments import adar1000_codes, adar1000_weights  # noqa: E402

from ..helpers import Z  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FLOWGRAPH = REPO / "examples" / "hardware" / "isac_phaser_beampattern_no_gui.grc"
SOURCE_DEG, AMPLITUDE, TONE, INTEGRATE = 0.0, 0.1, 0.5, 4096


def test_phaser_scan_measures_the_twins_pattern_of_the_quantised_learned_beam(tmp_path):
    """Each scan angle's measured power is the twin's truth for the weights the ADAR1000s applied (its
    elements' gains, phases, coupling and spacing) plus the noise and DC of Rx1 + Rx2, within the
    sampling error of 4096 samples; the applied weights are exactly representable by the device."""
    env = {**os.environ, "GRC_BLOCKS_PATH": str(REPO / "grc")}
    subprocess.run([sys.executable, "/usr/bin/grcc", "-o", str(tmp_path), str(FLOWGRAPH)], env=env, check=True)
    twin = DigitalTwin("phaser", seed=1)
    with Emulator("phaser", 0, source=twin.source()) as emulator:
        cn0566, pluto = emulator.uris
        code = main(
            ["hw", "scene", "--device", "phaser", "--uri", cn0566, "--comm-uri", pluto]
            + ["--target-deg", str(SOURCE_DEG), "--source-amplitude", str(AMPLITUDE)]
        )
        assert code == 0
        child = subprocess.run(
            [sys.executable, str(tmp_path / "isac_phaser_beampattern_no_gui.py"), "--uri", cn0566]
            + ["--sdr-uri", pluto, "--sweeps", "1", "--json-path", str(tmp_path / "sweep.json")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert child.returncode == 0, child.stderr[-3000:]
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    scan = np.radians(sweep["scan_deg"])
    applied = np.array([complex(*w) for w in sweep["applied_weights"]]).reshape(len(scan), 8)
    measured = np.array(sweep["measured_power"])

    gain, phase = adar1000_codes(torch.as_tensor(applied))
    assert np.allclose(adar1000_weights(gain, phase).numpy(), applied, atol=1e-12)  # the device's own codes

    truth = twin.truth
    a_rx = truth.array.to(dtype=torch.float64).steering_rx(torch.tensor([math.radians(SOURCE_DEG)]))[0].numpy()
    signal = (AMPLITUDE * TONE) ** 2 * np.abs(applied @ a_rx) ** 2
    noise = 2 * truth.noise_power  # Rx1 + Rx2, independent
    expected = signal + noise + abs(truth.dc_offset.sum()) ** 2  # the tone averages out of the DC over whole periods
    # mean of |s + n|^2 over N samples: variance (2 |s|^2 sigma^2 + sigma^4) / N; plus the 12-bit converters
    spread = np.sqrt(2 * signal * noise + noise**2) / math.sqrt(INTEGRATE) + 4 * (1 / 2048) ** 2
    assert np.all(np.abs(measured - expected) < Z * spread)
    # the impairments are visible: the nominal array's pattern of the same weights is not what was measured
    nominal = (AMPLITUDE * TONE) ** 2 * np.abs(applied @ steering_matrix(nominal_positions(8), [0.0])[:, 0]) ** 2
    assert np.sum(np.abs(measured - expected)) < 0.5 * np.sum(np.abs(measured - (nominal + noise)))
