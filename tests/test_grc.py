"""GRC loads every block YAML of grc/ without errors, files them under [ISAC AE], and opens the examples.

Two levels: GRC's platform in this process (always, when GNU Radio is
installed), and the real gnuradio-companion under a virtual X server (skipped
when xvfb-run is absent).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gnuradio", reason="GNU Radio is not installed: GRC cannot load the block definitions")

import yaml  # noqa: E402  (a dependency of GNU Radio's GRC)

REPO = Path(__file__).resolve().parents[1]
GRC_DIR = REPO / "grc"
BLOCK_FILES = sorted(GRC_DIR.glob("*.block.yml"))
EXAMPLES = sorted((REPO / "examples" / "simulation").glob("*.grc"))


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def platform():
    """GRC's platform with the in-tree defaults plus this repository's grc/ (as GRC_BLOCKS_PATH does)."""
    from gnuradio import gr
    from gnuradio.grc.core.platform import Platform

    collect = _Collect()
    grc_logger = logging.getLogger("grc")
    grc_logger.addHandler(collect)
    old = os.environ.get("GRC_BLOCKS_PATH")
    os.environ["GRC_BLOCKS_PATH"] = str(GRC_DIR)
    try:
        p = Platform(
            name="test",
            prefs=gr.prefs(),
            version=gr.version(),
            version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
        )
        p.build_library()
    finally:
        grc_logger.removeHandler(collect)
        if old is None:
            del os.environ["GRC_BLOCKS_PATH"]
        else:
            os.environ["GRC_BLOCKS_PATH"] = old
    p.load_warnings = collect.records
    return p


def _ids():
    return [yaml.safe_load(f.read_text())["id"] for f in BLOCK_FILES]


def test_every_block_yaml_loads_without_warnings(platform):
    ours = [r.getMessage() for r in platform.load_warnings if "isac_ae" in r.getMessage() or "isac_ae" in str(r.args)]
    assert not ours, ours
    for block_id in _ids():
        assert block_id in platform.blocks, f"GRC did not load {block_id}"


@pytest.mark.parametrize("path", BLOCK_FILES, ids=[p.stem for p in BLOCK_FILES])
def test_block_yaml_is_complete(platform, path):
    data = yaml.safe_load(path.read_text())
    block = platform.blocks[data["id"]]
    assert block.category[0] == "ISAC AE" and len(block.category) == 2, block.category
    assert data.get("documentation", "").strip(), "documentation missing"
    assert data.get("file_format") == 1
    imports = data["templates"]["imports"]
    exec(imports, {})  # the generated code's imports work in this environment
    assert data["templates"]["make"].strip()


def test_the_tree_lists_every_block_once():
    tree = yaml.safe_load((GRC_DIR / "isac_ae.tree.yml").read_text())
    listed = [b for sub in tree["[ISAC AE]"] for blocks in sub.values() for b in blocks]
    assert sorted(listed) == sorted(_ids())
    sections = {name: set(blocks) for sub in tree["[ISAC AE]"] for name, blocks in sub.items()}
    assert {"isac_ae_ae_transmitter"} <= sections["Transmitters"]
    assert {"isac_ae_ae_radar_receiver", "isac_ae_ae_comm_receiver"} <= sections["Receivers"]
    assert {"isac_ae_isac_metrics", "isac_ae_beampattern"} <= sections["Metrics"]


def test_ae_blocks_take_a_model_file_and_have_callbacks(platform):
    for block_id in ("isac_ae_ae_transmitter", "isac_ae_ae_radar_receiver", "isac_ae_ae_comm_receiver"):
        data = yaml.safe_load((GRC_DIR / f"{block_id}.block.yml").read_text())
        model = next(p for p in data["parameters"] if p["id"] == "model")
        assert model["dtype"] == "file_open"
    for block_id, callback in (
        ("isac_ae_ae_transmitter", "set_sectors"),
        ("isac_ae_ae_radar_receiver", "set_threshold_rule"),
        ("isac_ae_ae_radar_receiver", "set_sectors"),
        ("isac_ae_ae_comm_receiver", "set_sectors"),
    ):
        data = yaml.safe_load((GRC_DIR / f"{block_id}.block.yml").read_text())
        assert any(callback in c for c in data["templates"]["callbacks"])


def _instantiate(platform, block_id, params, later):
    """Build ``block_id`` from its YAML's make template with ``params``, then run its callbacks rendered with
    ``later`` (what GRC does when a variable changes while the flowgraph runs). Returns the block object."""
    fg = platform.make_flow_graph()
    grc_block = fg.new_block(block_id)
    grc_block.params["id"].set_value("blk")
    for key, value in params.items():
        grc_block.params[key].set_value(value)
    fg.rewrite()
    namespace = {}
    exec(grc_block.templates.render("imports"), namespace)
    made = eval(grc_block.templates.render("make"), namespace)
    for key, value in later.items():
        grc_block.params[key].set_value(value)
    fg.rewrite()
    namespace["self"] = type("TopBlock", (), {"blk": made})()
    for callback in grc_block.get_callbacks():
        exec(callback, namespace)
    return made


def test_sector_callbacks_hand_degrees_to_the_blocks(platform):
    """Every block with a sector gets it in degrees from its GRC callback, as from its make template."""
    changed = {"sector": "[5, 25]"}
    for block_id in ("isac_ae_radar_channel", "isac_ae_comm_channel"):
        block = _instantiate(platform, block_id, {"sector": "[-20, 20]"}, changed)
        assert block.sector() == [5.0, 25.0], block_id
    maprt = _instantiate(platform, "isac_ae_maprt_detector", {"sector": "[-20, 20]", "h0_samples": "20000"}, changed)
    assert maprt.wait_calibrated(timeout=60) and maprt.sector_deg() == (5.0, 25.0)
    baseline = _instantiate(
        platform, "isac_ae_baseline_transmitter", {}, {"target_sector": "[5, 25]", "comm_sector": "[40, 60]"}
    )
    assert baseline.sectors_deg() == ((5.0, 25.0), (40.0, 60.0))
    fixed = _instantiate(
        platform,
        "isac_ae_maprt_detector",
        {"mode": "statistic", "threshold": "90"},
        {"mode": "pfa", "h0_samples": "20000"},
    )  # the threshold rule changes while running too
    assert fixed.wait_calibrated(timeout=60) and fixed.mode() == "pfa" and fixed.threshold() != 90.0


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_open_without_errors(platform, path):
    fg = platform.make_flow_graph(str(path))
    fg.grc_file_path = str(path)
    fg.import_data(platform.parse_flow_graph(str(path)))
    fg.rewrite()
    fg.validate()
    missing = [b.key for b in fg.blocks if b.is_dummy_block]
    assert not missing, missing
    errors = [msg for _, msg in fg.iter_error_messages()]
    assert not errors, errors


def test_gnuradio_companion_opens_the_ae_flowgraph_under_xvfb(tmp_path):
    """The real GUI: starts, loads our blocks and isac_ae_sim.grc, and reports no error within a few seconds."""
    xvfb_run, grc = shutil.which("xvfb-run"), shutil.which("gnuradio-companion")
    if xvfb_run is None or grc is None:
        pytest.skip("xvfb-run or gnuradio-companion not installed")
    gtk = subprocess.run(
        [sys.executable, "-c", "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk"],
        capture_output=True,
    )
    if gtk.returncode != 0:
        pytest.skip("GTK 3 introspection (gir1.2-gtk-3.0) not installed: gnuradio-companion cannot start")
    env = dict(
        os.environ,
        GRC_BLOCKS_PATH=str(GRC_DIR),
        HOME=str(tmp_path),
        XDG_RUNTIME_DIR=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    log = tmp_path / "grc.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                xvfb_run,
                "-a",
                "-s",
                "-screen 0 1600x1000x24",
                sys.executable,
                grc,
                str(REPO / "examples" / "simulation" / "isac_ae_sim.grc"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
            alive = proc.poll() is None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # xvfb-run, its X server and GRC: the group this test started
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    output = log.read_text()
    assert alive, output
    for bad in ("Error while loading", "not found", "Traceback", "Flowgraph invalid", "Unable to load block"):
        assert bad not in output, output
