"""Evaluation over the air: a twin behind the emulator, reached through pyadi-iio, against the same twin
in process, and `isac-ae hw evaluate`'s refusals."""

import json
import math

import pytest

pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from isac_ae import Scenario  # noqa: E402
from isac_ae.baselines import BaselineSystem  # noqa: E402
from isac_ae.channels import Channels  # noqa: E402
from isac_ae.cli import main  # noqa: E402
from isac_ae.evaluation import evaluate  # noqa: E402
from isac_ae.hw.device import CommReceiver, Transceiver  # noqa: E402
from isac_ae.hw.emulator import Emulator  # noqa: E402
from isac_ae.hw.link import OverTheAirLink  # noqa: E402
from isac_ae.hw.scene import EmulatorSceneController  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402

from ..helpers import Z, proportion_tolerance  # noqa: E402


@pytest.fixture
def pluto_twin():
    twin = DigitalTwin("pluto2", seed=3)
    with Emulator("pluto2", 0, source=twin.source(), comm_receiver=True) as emulator:
        yield twin, emulator


def test_over_the_air_pd_and_pfa_agree_with_the_in_process_twin(pluto_twin):
    """The target and the comm receiver at fixed angles (degenerate sectors), so every snapshot of every
    block is an independent draw of the same distribution and binomial tolerances apply: what the frame,
    the leakage cancellation, the noise scaling, the converters and the scene amplitudes do to the
    snapshots must leave Pd and Pfa where the in-process twin (eq. (1) through the same board) puts them."""
    twin, emulator = pluto_twin
    sc = Scenario(num_antennas=2, snr_radar_db=6.0, target_sector_deg=(12.0, 12.0), comm_sector_deg=(40.0, 40.0))
    system = BaselineSystem(sc, 0.7, 0.0)
    n = 16_384
    board = Transceiver("pluto2", emulator.uris[0])
    comm = CommReceiver(emulator.uris[1], 2.4e9, 2.5e6)
    link = OverTheAirLink(sc, board, comm, EmulatorSceneController(emulator.uris), block=4096)
    air = evaluate(system, n, seed=5, channels=link.channels())
    here = evaluate(system, n, seed=5, channels=Channels(twin.radar_channel(sc), twin.comm_channel(sc)))
    assert link.stats.snapshots == 2 * n and link.stats.lost_comm_frames == 0
    pd = 0.5 * (air.pd + here.pd)
    assert abs(air.pd - here.pd) < proportion_tolerance(pd, air.targets) * math.sqrt(2)
    # The empirical Pfa scatters by the test set's binomial error and by the threshold's own (a quantile of
    # the H0 set); the per-frame noise estimate (1024 quiet samples) adds a little more, not modelled here.
    absent = air.samples - air.targets
    assert abs(air.pfa - sc.pfa) < Z * math.sqrt(sc.pfa * (1 - sc.pfa) * (1 / absent + 1 / air.h0_samples))
    assert 0.1 < pd < 0.9  # a comparison that can fail: neither certain detection nor none


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_hw_evaluate_runs_the_baseline_on_the_emulated_board(pluto_twin, capsys):
    _, emulator = pluto_twin
    code, out, err = _run(
        capsys,
        "hw",
        "evaluate",
        "--device",
        "pluto2",
        "--uri",
        emulator.uris[0],
        "--baseline",
        "--samples",
        "4096",
        "--block",
        "256",
        "--seed",
        "2",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["device"] == "pluto2" and result["samples"] == 4096 and 0.0 <= result["pd"] <= 1.0
    assert "8192 snapshots in 32 scenes" in err  # the H0 set and the test set, 256 snapshots per scene


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "pluto2", "--uri", "nope", "--baseline"], "not a libiio URI"),
        (["--device", "pluto2", "--uri", "ip:127.0.0.1:1", "--baseline"], "nothing answers at ip:127.0.0.1:1"),
        (["--device", "pluto9", "--uri", "ip:127.0.0.1:1", "--baseline"], "invalid choice"),
        (["--device", "phaser", "--uri", "ip:127.0.0.1:1", "--baseline"], "cannot run a live ISAC loop"),
        (
            ["--device", "pluto2", "--uri", "ip:127.0.0.1:1", "--model", "nominal/omega_0.09.safetensors"],
            "has K = 2 elements; the scenario has K = 16",
        ),
        (["--device", "pluto2", "--uri", "ip:127.0.0.1:1", "--baseline", "--samples", "10"], "too few for Pfa"),
    ],
)
def test_hw_evaluate_refuses_bad_input_in_one_line(capsys, argv, message, monkeypatch):
    from isac_ae.pretrained import models_dir

    monkeypatch.chdir(models_dir())
    code, out, err = _run(capsys, "hw", "evaluate", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_hw_capture_writes_recordings_and_resumes(pluto_twin, capsys, tmp_path):
    from isac_ae.hw.capture import captures_in, load_capture

    _, emulator = pluto_twin

    def capture(captures, seed):
        return _run(
            capsys,
            "hw",
            "capture",
            "--device",
            "pluto2",
            "--uri",
            emulator.uris[0],
            "--baseline",
            "--out",
            str(tmp_path),
            "--captures",
            str(captures),
            "--data-samples",
            "512",
            "--seed",
            str(seed),
        )

    code, out, err = capture(3, 4)
    assert code == 0, err
    paths = captures_in(tmp_path)
    assert len(paths) == 3
    first = paths[0].with_suffix(".sigmf-data").read_bytes()
    labels = [load_capture(p, device="pluto2").labels for p in paths]
    assert all(len(label.messages) == 512 for label in labels)
    code, out, err = capture(4, 4)  # one more scene: the first three are kept as they are
    assert code == 0, err
    assert len(captures_in(tmp_path)) == 4 and paths[0].with_suffix(".sigmf-data").read_bytes() == first
    code, out, err = capture(4, 5)  # another session's directory
    assert code == 2 and len(err.strip().splitlines()) == 1 and "another session" in err


def test_hw_calibrate_and_measure_manifold_write_their_files(pluto_twin, capsys, tmp_path):
    from isac_ae.hw.calibration import Calibration
    from isac_ae.hw.manifold import Manifold

    _, emulator = pluto_twin
    cal = tmp_path / "cal.json"
    code, out, err = _run(
        capsys,
        "hw",
        "calibrate",
        "--device",
        "pluto2",
        "--uri",
        emulator.uris[0],
        "--out",
        str(cal),
        "--samples",
        "1024",
    )
    assert code == 0, err
    assert Calibration.load(cal, "pluto2", 2).rx_correction[0] == 1
    man = tmp_path / "manifold.npz"
    code, out, err = _run(
        capsys,
        "hw",
        "measure-manifold",
        "--device",
        "pluto2",
        "--uri",
        emulator.uris[0],
        "--out",
        str(man),
        "--angles-deg",
        "-30",
        "30",
        "15",
        "--samples",
        "1024",
    )
    assert code == 0, err
    assert Manifold.load(man, device="pluto2").response.shape == (5, 2)
    # A calibration of another device is refused by hw evaluate in one line.
    code, out, err = _run(
        capsys,
        "hw",
        "evaluate",
        "--device",
        "fmcomms5",
        "--uri",
        emulator.uris[0],
        "--baseline",
        "--calibration",
        str(cal),
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pluto2" in err
