"""The headless Pluto hardware flowgraph (gr-iio FMComms2 sink and sources, the frame blocks, the AE
blocks) against a twin behind the emulator, and the same twin in process."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gnuradio.iio", reason="gr-iio (GNU Radio's iio module) cannot be imported")
pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from isac_ae import Scenario  # noqa: E402
from isac_ae.blocks.ae_common import load_system  # noqa: E402
from isac_ae.cli import main  # noqa: E402
from isac_ae.evaluation import h0_scores, threshold_for_pfa  # noqa: E402
from isac_ae.hw.emulator import Emulator  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402

from ..helpers import Z, proportion_tolerance  # noqa: E402

FLOWGRAPH = Path(__file__).resolve().parents[2] / "examples" / "hardware" / "isac_ae_pluto_no_gui.py"
MODEL = "pluto2/omega_0.09.safetensors"
TARGET_DEG, COMM_DEG, SNR_RADAR_DB = 12.0, 40.0, 6.0
FRAMES, FRAME = 10, 2048


def test_pluto_flowgraph_over_the_emulator_agrees_with_the_in_process_twin(tmp_path):
    """A static scene (a target at 12 deg, the comm receiver at 40 deg), as a bench holds one: every frame
    is found, and Pd and SER agree with what the same twin and the same receivers give in process."""
    twin = DigitalTwin("pluto2", seed=3)
    background = tmp_path / "background.json"
    with Emulator("pluto2", 0, source=twin.source(), comm_receiver=True) as emulator:
        code = main(
            ["hw", "scene", "--device", "pluto2", "--uri", emulator.uris[0], "--comm-uri", emulator.uris[1]]
            + ["--target-deg", str(TARGET_DEG), "--comm-deg", str(COMM_DEG), "--snr-radar-db", str(SNR_RADAR_DB)]
            + ["--background-out", str(background)]
        )
        assert code == 0
        # gr-iio holds the GIL while it waits on libiio: the flowgraph runs in a child process
        child = subprocess.run(
            [sys.executable, str(FLOWGRAPH), "--uri", emulator.uris[0], "--comm-uri", emulator.uris[1]]
            + ["--model", MODEL, "--items", str(FRAMES * FRAME), "--background", str(background)]
            + ["--target-deg", str(TARGET_DEG), "--comm-deg", str(COMM_DEG), "--timeout", "240"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert child.returncode == 0, child.stderr[-3000:]
    # the script prints one JSON line last (gr-iio's source may print its overflow "O"s before it)
    last = child.stdout.strip().splitlines()[-1]
    result = json.loads(last[last.index("{") :])
    assert result["frames_sent"] == result["radar_frames"] == result["comm_frames"] == FRAMES
    assert result["comm_frames_lost"] == 0
    got = result["metrics"]
    n = got["items"]
    assert n == FRAMES * FRAME and got["targets"] == n

    system, _ = load_system(MODEL, 2, 4)
    generator = torch.Generator().manual_seed(11)
    # Radar: eq. (1) through the same twin's array at the same angle and SNR, the receiver's threshold
    # calibrated as the block calibrates it (200 000 nominal H0 snapshots, seed 0, Pfa 1e-2).
    threshold = threshold_for_pfa(h0_scores(system, 200_000, 0), 1e-2)
    assert abs(threshold - result["threshold"]) < 1e-6
    sc = Scenario(num_antennas=2, snr_radar_db=SNR_RADAR_DB, target_sector_deg=(TARGET_DEG, TARGET_DEG))
    reference = 200_000
    messages = torch.randint(0, 4, (reference,), generator=generator)
    y, v = system.transmit(messages)
    draw = twin.radar_channel(sc)(y, generator, target=True)
    score = system.radar_receive(draw.z)[0]
    pd_here = float((score > threshold).float().mean())
    # the snapshots of the flowgraph are independent given the angle (the twin's echo fluctuates per sample)
    tolerance = math.sqrt(proportion_tolerance(pd_here, reference) ** 2 + proportion_tolerance(pd_here, n) ** 2)
    assert abs(got["pd"] - pd_here) < tolerance
    assert 0.02 < pd_here < 0.98  # a comparison that can fail

    # Comm: one channel realisation for the run (a static scene), so the SER expected is the receiver's on
    # z = kappa x + n with the kappa the comm frame receiver measured (n ~ CN(0, 1)).
    # (each frame's kappa has its own phase: the CFO turns it between frames; the receiver sees z / kappa)
    kappa = float(np.sqrt(np.mean(np.sum(np.square(result["kappa"]), axis=1))))
    x = (y @ v.conj() / v.abs().square().sum()).detach()  # y = x v
    noise = torch.complex(torch.randn(reference, generator=generator), torch.randn(reference, generator=generator))
    z = kappa * x + noise / math.sqrt(2)
    decided = system.comm_receive(z.to(torch.complex64), torch.full((reference,), kappa, dtype=torch.complex64))
    ser_here = float((decided != messages).float().mean())
    tolerance = Z * math.sqrt(max(ser_here, 1 / n) * (1 / reference + 1 / n))
    assert abs(got["ser"] - ser_here) < tolerance
