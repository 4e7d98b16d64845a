#!/usr/bin/env python3
"""Writes the example flowgraphs of this directory (*.grc) through GRC's own platform.

The .grc files are the product; this script is how they are made, so that the
GUI and no_gui twins of a flowgraph cannot drift apart. It builds each
flowgraph from a compact description, lets GRC fill in every default,
validates it and saves it in GRC's format. Run it after changing a block's
YAML or a flowgraph:

    GRC_BLOCKS_PATH=$PWD/grc .venv/bin/python examples/simulation/make_flowgraphs.py

It fails (exit 1) naming the errors when GRC finds a flowgraph invalid.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_MODEL = "nominal/omega_0.09.safetensors"
BUF = "8192"  # min output buffer (items) of the C++ channels that feed learned blocks
TWIN_DEVICE = "quadmxfe"  # the twin flowgraph's default board: K = 16, the shipped models' K
HARDWARE_DIR = REPO / "examples" / "hardware"
PLUTO_MODEL = "pluto2/omega_0.09.safetensors"  # the K = 2 model of the Pluto hardware flowgraphs
PHASER_MODEL = "phaser/omega_0.09.safetensors"  # the K = 8 model whose beam the Phaser flowgraphs scan
#: The Qt AE simulation's model: the shipped omega_r- and sector-conditioned one, whose omega_r and target sector
#: its sliders move (transmitter and receivers).
AE_SIM_MODEL = "sectors/conditioned.safetensors"


# --- compact description helpers ---------------------------------------------
def block(name, kind, xy, rotation=0, /, **params):
    return {
        "name": name,
        "id": kind,
        "parameters": {k: str(v) for k, v in params.items()},
        "states": {"coordinate": list(xy), "rotation": rotation, "state": "enabled"},
    }


def options(fid, title, description, gui: bool):
    return {
        "parameters": {
            "id": fid,
            "title": title,
            "author": "gr-isac_ae",
            "description": description,
            "generate_options": "qt_gui" if gui else "no_gui",
            "run_options": "prompt" if gui else "run",
            "window_size": "(1400,1000)",
            "category": "[GRC Hier Blocks]",
        },
        "states": {"coordinate": [8, 8], "rotation": 0, "state": "enabled"},
    }


def param(name, xy, value, ptype="intx", label="", short_id=""):
    return block(name, "parameter", xy, label=label or name, type=ptype, value=value, short_id=short_id, hide="none")


def variable(name, xy, value):
    return block(name, "variable", xy, value=value)


def c(src, sport, dst, dport):
    return [src, str(sport), dst, str(dport)]


def null_sink(name, xy, kind="float", vlen=1):
    return block(name, "blocks_null_sink", xy, type=kind, vlen=vlen, num_inputs=1)


# --- shared pieces -------------------------------------------------------------
# Layout: Options and the scenario variables along the top, the signal chain(s)
# below them, then the command-line parameters, the GUI controls and the
# metric probes and labels.
CHAIN_Y = 140  # top of the first signal chain
CHAIN_H = 520  # height of one chain


def place(blocks, x0, y, step=200):
    """Set the coordinates of ``blocks`` left to right on row ``y`` (``step`` an int or one per block)."""
    x = x0
    steps = step if isinstance(step, (list, tuple)) else [step] * len(blocks)
    for b, dx in zip(blocks, steps):
        b["states"]["coordinate"] = [x, y]
        x += dx
    return blocks


def common_parameters(y, gui=False, with_model=True, twin=False, hardware=False, model=DEFAULT_MODEL):
    """Command-line parameters shared by the flowgraphs (no_gui adds K, the target sector, items, metrics JSON;
    ``twin`` the digital twin: device profile, twin seed, truth JSON; ``hardware`` the board's and the comm
    receiver's URIs, the background and the bench's labels)."""
    blocks = []
    if with_model:
        model = PLUTO_MODEL if hardware else model
        blocks.append(param("model", (0, 0), repr(model), "str", "Model file"))
    if hardware:
        blocks += [
            param("uri", (0, 0), "'ip:192.168.2.1'", "str", "Board URI (2R2T Pluto, or isac-ae hw emulate)"),
            param("comm_uri", (0, 0), "'ip:192.168.3.1'", "str", "Comm receiver URI"),
            param("background", (0, 0), "''", "str", "Background JSON (isac-ae hw scene)"),
            param("target", (0, 0), "1", "intx", "Target present (label, 1 or 0)"),
            param("target_deg", (0, 0), "12", "eng_float", "Target angle (label, deg)"),
            param("comm_deg", (0, 0), "40", "eng_float", "Comm receiver angle (label, deg)"),
            param("frame", (0, 0), "2048", "intx", "Snapshots per frame"),
            param("samp_rate", (0, 0), "2500000", "intx", "Sample rate (Hz)"),
            param("lo", (0, 0), "2400000000", "intx", "Carrier (Hz)"),
        ]
    if twin:
        blocks += [
            param("device", (0, 0), repr(TWIN_DEVICE), "str", "Twin device profile"),
            param("twin_seed", (0, 0), "0", "intx", "Twin seed (hidden impairments)"),
            param("truth_json", (0, 0), "''", "str", "Twin truth JSON (isac-ae hw emulate --truth-json)"),
        ]
    blocks += [
        param("seed", (0, 0), "1", "intx", "Channel and message seed"),
        # Both radar receivers calibrate their thresholds for this Pfa on target-free snapshots.
        param("pfa", (0, 0), "0.01", "eng_float", "Target Pfa (radar receivers)"),
        param("h0_samples", (0, 0), "200000", "intx", "H0 snapshots (threshold calibration)"),
        param("h0_seed", (0, 0), "0", "intx", "H0 seed"),
    ]
    if not gui:
        blocks += [
            param("K", (0, 0), "2" if hardware else "16", "intx", "Antennas K"),
            param("theta_min", (0, 0), "-20", "eng_float", "Target sector min (deg)"),
            param("theta_max", (0, 0), "20", "eng_float", "Target sector max (deg)"),
            param("items", (0, 0), "200000", "intx", "Snapshots to run"),
            param("metrics_json", (0, 0), "''", "str", "Metrics JSON prefix"),
        ]
    return place(blocks, 8, y, 230)


#: Qt rows 0 to CONTROL_ROWS - 1 hold the sliders (gui_controls, the extras in row 1); the metrics and plots follow.
CONTROL_ROWS = 3
#: The comm sector of the simulation GUIs: its two sliders in either order (each spans the whole half-space).
COMM_SECTOR_SLIDERS = "[min(vartheta_min, vartheta_max), max(vartheta_min, vartheta_max)]"


def scenario_variables(gui=False, hardware=False):
    """K (GUI; a parameter headless), |M|, the buffer size, the array, the sectors (and the SNRs headless)."""
    out = [variable("K", (0, 0), "2" if hardware else "16")] if gui else []
    out += [
        variable("M", (0, 0), "4"),
        variable("buf", (0, 0), BUF),
        variable("positions", (0, 0), "[]"),
        variable("comm_sector", (0, 0), COMM_SECTOR_SLIDERS if gui and not hardware else "[30, 50]"),
        variable("target_sector", (0, 0), "[theta_min, theta_max]"),
    ]
    if not gui:
        out += [variable("snr_radar_db", (0, 0), "0"), variable("snr_comm_db", (0, 0), "20")]
    return place(out, 200, 8, ([90] if gui else []) + [90, 110, 110, 130, 200, 130, 130])


def gui_controls(y, extra=(), hardware=False):
    """Sliders: SNRs, the target sector (Theta of the AE beamformer and the radar channel), the comm sector
    (the beamformer's and the comm channel's), the rate, extras (Qt row 1, columns 2-3). ``hardware``: the
    target sector only (the bench sets the SNRs and places the comm receiver, the radio's sample clock the
    rate)."""
    blocks = [
        block(
            "snr_radar_db",
            "variable_qtgui_range",
            (0, 0),
            label="SNR_r (dB)",
            value="0",
            start="-20",
            stop="20",
            step="0.5",
            gui_hint="0,0,1,1",
        ),
        block(
            "snr_comm_db",
            "variable_qtgui_range",
            (0, 0),
            label="SNR_c (dB)",
            value="20",
            start="-10",
            stop="40",
            step="0.5",
            gui_hint="0,1,1,1",
        ),
        block(
            "theta_min",
            "variable_qtgui_range",
            (0, 0),
            label="Target sector min (deg)",
            value="-20",
            start="-80",
            stop="0",
            step="1",
            gui_hint="0,2,1,1",
        ),
        block(
            "theta_max",
            "variable_qtgui_range",
            (0, 0),
            label="Target sector max (deg)",
            value="20",
            start="0",
            stop="80",
            step="1",
            gui_hint="0,3,1,1",
        ),
        block(
            "vartheta_min",
            "variable_qtgui_range",
            (0, 0),
            label="Comm sector min (deg)",
            value="30",
            start="-80",
            stop="80",
            step="1",
            gui_hint="1,0,1,1",
        ),
        block(
            "vartheta_max",
            "variable_qtgui_range",
            (0, 0),
            label="Comm sector max (deg)",
            value="50",
            start="-80",
            stop="80",
            step="1",
            gui_hint="1,1,1,1",
        ),
        block(
            "rate",
            "variable_qtgui_range",
            (0, 0),
            label="Snapshots/s (throttle)",
            value="100e3",
            start="1e3",
            stop="2e6",
            step="1e3",
            gui_hint=f"{CONTROL_ROWS - 1},0,1,4",
        ),
        *extra,
    ]
    if hardware:
        blocks = [b for b in blocks if b["name"] in ("theta_min", "theta_max")] + list(extra)
    return place(blocks, 8, y, 230)


#: What the AE blocks of a flowgraph with an omega_r slider run at: the slider for a conditioned model, the
#: model's own omega_r otherwise (a model trained for one omega_r refuses any other).
OMEGA_EXPR = "omega_r if conditioned else None"


def omega_control():
    """The omega_r slider and ``conditioned`` (whether the flowgraph's model is; decided when it starts).

    Each AE block moves at its own next work() call: the snapshots already in the buffers between the
    transmitter and the receivers (a few 8192-item batches) are received at the new omega_r though sent at the
    old one. The metrics restart their counts when the slider (or any slider of the operating point) moves
    (:func:`operating_point`), so the labels show the new point's figures, those buffered items included."""
    return [
        block(
            "omega_r",
            "variable_qtgui_range",
            (0, 0),
            label="omega_r (conditioned model: 0 comm ... 1 radar)",
            value="0.09",
            start="0",
            stop="1",
            step="0.001",
            gui_hint="1,2,1,2",
        ),
        block("import_conditioned", "import", (0, 0), imports="from isac_ae.blocks.ae_common import model_conditioned"),
        variable("conditioned", (0, 0), "model_conditioned(model)"),
    ]


def rho_phi(gui, label=""):
    if gui:
        return [
            block(
                "rho",
                "variable_qtgui_range",
                (0, 0),
                label=f"{label}rho (radar share)",
                value="0.5",
                start="0",
                stop="1",
                step="0.01",
                gui_hint="1,2,1,1",
            ),
            block(
                "phi",
                "variable_qtgui_range",
                (0, 0),
                label=f"{label}phi (deg)",
                value="0",
                start="-180",
                stop="180",
                step="1",
                gui_hint="1,3,1,1",
            ),
        ]
    return [
        param("rho", (0, 0), "0.5", "eng_float", f"{label}rho (radar share)"),
        param("phi", (0, 0), "0", "eng_float", f"{label}phi (deg)"),
    ]


#: gr-iio's FMComms2 blocks at the flowgraph's carrier and sample rate.
RADIO = dict(type="fc32", frequency="lo", samplerate="samp_rate", bandwidth="20000000", len_tag_key="''")


def iio_source(name, xy, uri, buffer_size, channels):
    """gr-iio's FMComms2 source on RX1 (and RX2 when ``channels`` is 2), manual gain 30 dB."""
    gains = {}
    for k in range(1, channels + 1):
        gains.update({f"gain{k}": "'manual'", f"manual_gain{k}": "30"})
    rx = dict(rx1_en="True", rx2_en=str(channels == 2))
    return block(name, "iio_fmcomms2_source", xy, uri=uri, buffer_size=buffer_size, **rx, **gains, **RADIO)


def iio_sink(name, xy, uri, buffer_size, channels, cyclic):
    """gr-iio's FMComms2 sink on TX1 (and TX2 when ``channels`` is 2), 10 dB attenuation."""
    attenuation = {f"attenuation{k}": "10" for k in range(1, channels + 1)}
    tx = dict(tx1_en="True", tx2_en=str(channels == 2), cyclic=str(cyclic))
    return block(name, "iio_fmcomms2_sink", xy, uri=uri, buffer_size=buffer_size, **tx, **attenuation, **RADIO)


def hardware_channels(prefix, x, y, tx, gui):
    """The air in place of the channels: Frame Transmitter -> FMComms2 Sink (TX1, TX2); FMComms2 Source
    (RX1, RX2) -> Radar Frame Receiver; the comm receiver's source (RX1) -> Comm Frame Receiver. The two
    receivers have the channels' output ports (z, labels), so the rest of the flowgraph is unchanged."""
    ftx, sink, src, csrc = f"{prefix}frame_tx", f"{prefix}iio_sink", f"{prefix}iio_source", f"{prefix}comm_source"
    rc, cc = f"{prefix}radar_frame_rx", f"{prefix}comm_frame_rx"
    frames = "0" if gui else "items // frame"
    blocks = [
        block(ftx, "isac_ae_frame_transmitter", (x, y), K="K", frame_snapshots="frame"),
        iio_sink(sink, (x + 230, y), "uri", "frame + 4096", 2, False),
        iio_source(src, (x, y + 120), "uri", "8192", 2),
        block(
            rc,
            "isac_ae_radar_frame_receiver",
            (x + 230, y + 120),
            K="K",
            frame_snapshots="frame",
            device="'pluto2'",
            background="background",
            target_present="bool(target)",
            target_deg="target_deg",
            frames=frames,
        ),
        iio_source(csrc, (x, y + 260), "comm_uri", "8192", 1),
        block(
            cc,
            "isac_ae_comm_frame_receiver",
            (x + 230, y + 260),
            K="K",
            frame_snapshots="frame",
            comm_deg="comm_deg",
            frames=frames,
        ),
    ]
    conns = [
        c(tx, 0, ftx, 0),
        c(tx, 1, ftx, 1),
        c(ftx, 0, sink, 0),
        c(ftx, 1, sink, 1),
        c(ftx, "sent", rc, "sent"),
        c(src, 0, rc, 0),
        c(src, 1, rc, 1),
        c(csrc, 0, cc, 0),
    ]
    return blocks, conns, rc, cc


def channels(prefix, x, y, tx, seed="seed", twin=False):
    """Radar and comm channels fed by transmitter ``tx`` (outputs y, v): the C++ ones on the ``positions``
    array, or (``twin``) the digital twin's, the same ports with the twin's parameters in place of positions."""
    rc, cc = f"{prefix}radar_channel", f"{prefix}comm_channel"
    kind, array = (
        ("isac_ae_twin_", dict(device="device", twin_seed="twin_seed", truth_json="truth_json"))
        if twin
        else ("isac_ae_", dict(positions="positions"))
    )
    blocks = [
        block(
            rc,
            f"{kind}radar_channel",
            (x, y),
            K="K",
            snr_db="snr_radar_db",
            sector="target_sector",
            p_target="0.5",
            seed=seed,
            minoutbuf="buf",
            **array,
        ),
        block(
            cc,
            f"{kind}comm_channel",
            (x, y + 240),
            K="K",
            snr_db="snr_comm_db",
            sector="comm_sector",
            seed=seed,
            **array,
        ),
    ]
    conns = [c(tx, 0, rc, 0), c(tx, 0, cc, 0), c(tx, 1, cc, 1)]
    return blocks, conns, rc, cc


def metrics_block(name, xy, label, gui, epoch="None"):
    """``epoch``: the expression of the operating point (the sliders); the counts restart when it changes."""
    json = f"(metrics_json + '_{label.lower()}.json') if metrics_json else ''" if not gui else "''"
    return block(
        name,
        "isac_ae_isac_metrics",
        xy,
        label=repr(label),
        report_every="100000",
        json_path=json,
        log_at_stop="True",
        epoch=epoch,
    )


def operating_point(gui, hardware=False, omega="None"):
    """The sliders the metrics' counts belong to (None headless: nothing moves)."""
    if not gui:
        return "None"
    sliders = ["theta_min", "theta_max"]
    if not hardware:
        sliders = ["snr_radar_db", "snr_comm_db", *sliders, "vartheta_min", "vartheta_max"]
    if "omega_r" in omega:
        sliders.append("omega_r")
    return f"({', '.join(sliders)})"


#: The sectors the AE receivers run at: the flowgraph's for a sector-conditioned model (they are its inputs), the
#: model's own ([]) for any other (whose receivers refuse other sectors; its transmitter extrapolates the beam).
RECEIVER_SECTOR = "{sector} if sector_conditioned else []"


def ae_chain(y, src, gui, prefix="", twin=False, hardware=False, omega="None", epoch="None"):
    """AE transmitter, channels (``twin``: the digital twin's), AE receivers, metrics. ``src``: the message
    stream (block, port); ``omega``: the AE blocks' omega_r (an expression; None: the model's)."""
    tx, rrx, crx, met = (
        f"{prefix}ae_transmitter",
        f"{prefix}ae_radar_receiver",
        f"{prefix}ae_comm_receiver",
        f"{prefix}ae_metrics",
    )
    blocks = [
        block(
            tx,
            "isac_ae_ae_transmitter",
            (230, y + 150),
            model="model",
            K="K",
            M="M",
            target_sector="target_sector",
            comm_sector="comm_sector",
            omega=omega,
        ),
    ]
    conns = [c(*src, tx, 0)]
    if hardware:
        ch, cc_conns, rc, cc = hardware_channels(prefix, 500, y, tx, gui)
    else:
        ch, cc_conns, rc, cc = channels(prefix, 500, y, tx, twin=twin)
    blocks += ch
    conns += cc_conns
    blocks += [
        block(
            rrx,
            "isac_ae_ae_radar_receiver",
            (790, y),
            model="model",
            K="K",
            mode="pfa",
            pfa="pfa",
            threshold="0",
            h0_samples="h0_samples",
            seed="h0_seed",
            omega=omega,
            target_sector=RECEIVER_SECTOR.format(sector="target_sector"),
            comm_sector=RECEIVER_SECTOR.format(sector="comm_sector"),
        ),
        block(
            crx,
            "isac_ae_ae_comm_receiver",
            (790, y + 260),
            model="model",
            K="K",
            M="M",
            probabilities="False",
            omega=omega,
            target_sector=RECEIVER_SECTOR.format(sector="target_sector"),
            comm_sector=RECEIVER_SECTOR.format(sector="comm_sector"),
        ),
        # one AE chain per flowgraph: the names need no prefix
        block(
            "import_sector_conditioned",
            "import",
            (1090, y + 330),
            imports="from isac_ae.blocks.ae_common import model_sector_conditioned",
        ),
        variable("sector_conditioned", (1090, y + 400), "model_sector_conditioned(model)"),
        metrics_block(met, (1090, y + 130), "AE", gui, epoch),
        null_sink(f"{prefix}null_q", (1090, y)),
        null_sink(f"{prefix}null_sigma", (1090, y + 60)),
        null_sink(f"{prefix}null_vartheta", (790, y + 400)),
    ]
    conns += [
        c(rc, 0, rrx, 0),
        c(cc, 0, crx, 0),
        c(cc, 1, crx, 1),
        c(cc, 2, f"{prefix}null_vartheta", 0),
        c(rrx, 0, f"{prefix}null_q", 0),
        c(rrx, 2, f"{prefix}null_sigma", 0),
        c(rc, 1, met, 0),
        c(rc, 2, met, 1),
        c(rrx, 3, met, 2),
        c(rrx, 1, met, 3),
        c(*src, met, 4),
        c(crx, 0, met, 5),
    ]
    names = {"tx": tx, "radar_channel": rc, "comm_channel": cc, "radar_rx": rrx, "comm_rx": crx, "metrics": met}
    return blocks, conns, names


def baseline_chain(y, src, gui, prefix="bl_", epoch="None"):
    """Baseline transmitter (rho, phi), channels, MAPRT and ML detectors, metrics."""
    tx, maprt, ml, met = f"{prefix}transmitter", f"{prefix}maprt_detector", f"{prefix}ml_detector", f"{prefix}metrics"
    blocks = [
        block(
            tx,
            "isac_ae_baseline_transmitter",
            (230, y + 150),
            K="K",
            M="M",
            rho="rho",
            phi="phi",
            target_sector="target_sector",
            comm_sector="comm_sector",
        ),
    ]
    conns = [c(*src, tx, 0)]
    ch, cc_conns, rc, cc = channels(prefix, 500, y, tx)
    blocks += ch
    conns += cc_conns
    blocks += [
        block(
            maprt,
            "isac_ae_maprt_detector",
            (790, y),
            K="K",
            positions="[]",
            sector="target_sector",
            mode="pfa",
            pfa="pfa",
            h0_samples="h0_samples",
            seed="h0_seed",
        ),
        block(ml, "isac_ae_ml_detector", (790, y + 260)),  # default constellation: the 4-QAM of |M| = 4
        metrics_block(met, (1090, y + 130), "Baseline", gui, epoch),
        null_sink(f"{prefix}null_statistic", (1090, y)),
        null_sink(f"{prefix}null_vartheta", (790, y + 400)),
    ]
    conns += [
        c(rc, 0, maprt, 0),
        c(cc, 0, ml, 0),
        c(cc, 1, ml, 1),
        c(cc, 2, f"{prefix}null_vartheta", 0),
        c(maprt, 0, f"{prefix}null_statistic", 0),
        c(rc, 1, met, 0),
        c(rc, 2, met, 1),
        c(maprt, 2, met, 2),
        c(maprt, 1, met, 3),
        c(*src, met, 4),
        c(ml, 0, met, 5),
    ]
    return blocks, conns, {"tx": tx, "radar_channel": rc, "comm_channel": cc, "metrics": met}


def message_source(y, gui, hardware=False):
    """Random messages (0..M-1), then a throttle (GUI) or a head of ``items`` (no_gui). ``hardware``: no
    throttle (the radio's sample clock paces the flowgraph; two clocks would fight)."""
    blocks = [
        block("messages", "analog_random_uniform_source_x", (24, y), type="byte", minimum="0", maximum="M", seed="seed")
    ]
    if gui and hardware:
        return blocks, [], ("messages", 0)
    if gui:
        blocks.append(
            block(
                "throttle",
                "blocks_throttle",
                (24, y + 140),
                type="byte",
                samples_per_second="rate",
                vlen="1",
                ignoretag="True",
            )
        )
        return blocks, [c("messages", 0, "throttle", 0)], ("throttle", 0)
    blocks.append(block("head", "blocks_head", (24, y + 140), type="byte", num_items="items", vlen="1"))
    return blocks, [c("messages", 0, "head", 0)], ("head", 0)


def probe_label(probe, lab, xy, block_id, getter, label, gui_hint, kind="real", initial="float('nan')", formatter=None):
    """A Function Probe polling ``block_id.getter()`` twice a second and the Qt label showing it (placed below).

    ``kind``: the label's type (real, int, string, raw); ``initial``: the probe's value until the first poll;
    ``formatter``: the label's text from the value (an expression; None: str)."""
    x, y = xy
    return [
        block(
            probe,
            "variable_function_probe",
            (x, y),
            block_id=block_id,
            function_name=getter,
            function_args="",
            poll_rate="2",
            value=initial,
        ),
        block(
            lab,
            "variable_qtgui_label",
            (x, y + 130),
            label=label,
            type=kind,
            value=probe,
            formatter=formatter or "None",
            gui_hint=gui_hint,
        ),
    ]


#: The metrics getters shown live: (getter, label, format).
METRIC_GETTERS = [
    ("pd", "Pd", "{:.4f}"),
    ("pfa", "Pfa", "{:.4f}"),
    ("rmse_deg", "RMSE (deg)", "{:.3f}"),
    ("ser", "SER", "{:.5f}"),
]


def metric_probe(prefix, getter):
    """The Function Probe variable of metrics getter ``getter`` in ``gui_metrics(prefix, ...)``."""
    return f"{prefix}probe_{getter}"


def gui_metrics(prefix, met, row, title, y):
    """Function probes polling the metrics getters (one row), shown as Qt labels (the row below)."""
    blocks = []
    for i, (getter, label, fmt) in enumerate(METRIC_GETTERS):
        blocks += probe_label(
            metric_probe(prefix, getter),
            f"{prefix}label_{getter}",
            (8 + 230 * i, y),
            met,
            getter,
            f"{title} {label}",
            f"{row},{i},1,1",
            formatter=f"lambda x: '{fmt}'.format(x)",
        )
    return blocks


def beampattern_gui(name, xy, sources, labels, gui_hint):
    """Beampattern blocks of the beamformer streams into one Qt vector sink."""
    x, y = xy
    blocks, conns = [], []
    sink = f"{name}_sink"
    for i, src in enumerate(sources):
        bp = f"{name}_{i}"
        blocks.append(
            block(
                bp,
                "isac_ae_beampattern",
                (x, y + 200 * i),
                K="K",
                positions="positions",
                points="256",
                angle_range="[-90, 90]",
                decimation="10000",
                db="False",
            )
        )
        conns += [c(*src, bp, 0), c(bp, 0, sink, i)]
    params = dict(
        name="'Transmit beampattern E(phi)'",
        vlen="256",
        x_start="-90",
        x_step="180 / 255",
        x_axis_label="'Angle'",
        x_units="'deg'",
        y_axis_label="'E(phi)'",
        y_units="''",
        ymin="0",
        ymax="16",
        autoscale="True",
        nconnections=str(len(sources)),
        update_time="0.5",
        gui_hint=gui_hint,
        average="1.0",
        ref_level="0",
        grid="True",
    )
    for i, lab in enumerate(labels):
        params[f"label{i + 1}"] = repr(lab)
    blocks.append(block(sink, "qtgui_vector_sink_f", (x + 290, y), **params))
    return blocks, conns


def constellation_gui(name, xy, comm_channels, labels, gui_hint):
    """z_c / kappa of each comm channel into one Qt constellation sink."""
    x, y = xy
    blocks, conns = [], []
    sink = f"{name}_sink"
    for i, cc in enumerate(comm_channels):
        div = f"{name}_divide_{i}"
        blocks.append(block(div, "blocks_divide_xx", (x, y + 100 * i), type="complex", num_inputs="2", vlen="1"))
        conns += [c(cc, 0, div, 0), c(cc, 1, div, 1), c(div, 0, sink, i)]
    params = dict(
        type="complex",
        name="'Equalised comm symbols z_c / kappa'",
        size="1024",
        # +-8: a learned constellation's scale is arbitrary (only |x| ||v|| is fixed): the sector model's points
        # lie at |x| = 6.5, the omega_r-conditioned model's at 2.5, the baseline's QAM at 1
        xmin="-8",
        xmax="8",
        ymin="-8",
        ymax="8",
        autoscale="False",
        nconnections=str(len(comm_channels)),
        update_time="0.2",
        gui_hint=gui_hint,
        grid="True",
    )
    for i, lab in enumerate(labels):
        params[f"label{i + 1}"] = repr(lab)
    blocks.append(block(sink, "qtgui_const_sink_x", (x + 200, y), **params))
    return blocks, conns


# --- the flowgraphs ---------------------------------------------------------------
def _assemble(
    fid,
    title,
    desc,
    gui,
    chains,
    with_model,
    extra_controls,
    metric_rows,
    twin=False,
    hardware=False,
    model=DEFAULT_MODEL,
    omega="None",
    plots=True,
    extend=None,
):
    """chains: list of (kind, prefix) with kind "ae" or "baseline"; the GUI plots every chain (``plots``: the
    beampatterns and constellations, Qt rows CONTROL_ROWS + len(chains) and the next). ``twin``: the AE chains
    run through the digital twin's channels; ``hardware``: through a board (gr-iio). ``model``: the model parameter's
    default; ``omega``: the AE blocks' omega_r expression. ``extend(names, src, gui, y)``: more blocks and
    connections, given the first chain's block names, the message stream and the canvas row to place them on."""
    blocks, conns = scenario_variables(gui, hardware), []
    src_y = CHAIN_Y + (CHAIN_H * (len(chains) - 1)) // 2 + 100
    b, cn, src = message_source(src_y, gui, hardware)
    blocks += b
    conns += cn
    built = []
    epoch = operating_point(gui, hardware, omega)
    for i, (kind, prefix) in enumerate(chains):
        if kind == "ae":
            b, cn, names = ae_chain(
                CHAIN_Y + CHAIN_H * i, src, gui, prefix=prefix, twin=twin, hardware=hardware, omega=omega, epoch=epoch
            )
        else:
            b, cn, names = baseline_chain(CHAIN_Y + CHAIN_H * i, src, gui, prefix=prefix, epoch=epoch)
        blocks += b
        conns += cn
        built.append((kind, names))
    y = CHAIN_Y + CHAIN_H * len(chains)
    if gui and plots:
        labels = ["AE" if k == "ae" else "Baseline" for k, _ in built]
        b, cn = beampattern_gui(
            "beampattern", (500, y), [(n["tx"], 1) for _, n in built], labels, f"{CONTROL_ROWS + len(built)},0,2,2"
        )
        blocks += b
        conns += cn
        b, cn = constellation_gui(
            "constellation",
            (1090, y),
            [n["comm_channel"] for _, n in built],
            labels,
            f"{CONTROL_ROWS + len(built)},2,2,2",
        )
        blocks += b
        conns += cn
        y += 200 * len(built) + 60
    blocks += common_parameters(y, gui, with_model, twin, hardware, model)
    y += 130
    if gui:
        blocks += gui_controls(y, extra_controls, hardware)
        y += 190
        for row, ((_, names), (prefix, name)) in enumerate(zip(built, metric_rows)):
            blocks += gui_metrics(prefix, names["metrics"], CONTROL_ROWS + row, name, y)
            y += 260
    else:
        blocks += place(list(extra_controls), 8, y, 230)
        y += 130
    if extend is not None:
        b, cn = extend(built[0][1], src, gui, y)
        blocks += b
        conns += cn
    return fid, options(fid, title + ("" if gui else " (headless)"), desc, gui), blocks, conns


def isac_ae_sim(gui: bool):
    """The GUI has the omega_r slider (a conditioned model's trade-off point, live) and AE_SIM_MODEL by default,
    whose receivers follow the target sector sliders too; the headless twin runs a model at its own omega_r."""
    return _assemble(
        "isac_ae_sim" + ("" if gui else "_no_gui"),
        "ISAC autoencoder simulation",
        "Learned ISAC: random messages -> AE transmitter -> radar and comm channels -> AE receivers -> "
        "Pd, Pfa, RMSE, SER" + ("; the omega_r slider moves a conditioned model along its trade-off" if gui else ""),
        gui,
        [("ae", "")],
        True,
        omega_control() if gui else [],
        [("", "AE")],
        model=AE_SIM_MODEL if gui else DEFAULT_MODEL,
        omega=OMEGA_EXPR if gui else "None",
    )


def isac_ae_twin_sim(gui: bool):
    return _assemble(
        "isac_ae_twin_sim" + ("" if gui else "_no_gui"),
        "ISAC autoencoder through a board's digital twin",
        "isac_ae_sim with the channels of a board's digital twin (hidden TX/RX gains, coupling, positions): "
        "random messages -> AE transmitter -> twin radar and comm channels -> AE receivers -> Pd, Pfa, RMSE, SER",
        gui,
        [("ae", "")],
        True,
        [],
        [("", "AE")],
        twin=True,
    )


# --- online fine-tuning -----------------------------------------------------------------
#: The Online Fine-Tuning block's settings that the fine-tuning flowgraphs take from their command line (the
#: flowgraph's parameter, the block's, default, label; GRC refuses the id "window"); the others keep the block's
#: defaults. Rounds of 100 steps take about 5 s each with the stream running (measured with online_finetune_twin.py
#: on this project's shared 2-core machine).
FINETUNE_PARAMETERS = [
    ("train_window", "window", "65536", "Training window (items)"),
    ("held_out_window", "held_out", "16384", "Held-out window (items)"),
    ("steps", "steps", "100", "Adam steps per round"),
    ("batch_size", "batch_size", "1024", "Batch size"),
    ("rounds", "rounds", "8", "Fine-tuning rounds (0: until stopped)"),
]

#: The headless fine-tuning flowgraph's default --items: with 1e7 (107 s, on the machine above) the 8th round's
#: weights were in use from snapshot 8.6e6; 1.5e7 leaves a margin for a machine whose stream runs faster.
FINETUNE_ITEMS = "15000000"

#: Points per second of the fine-tuning flowgraph's metric plots (its probes poll at 2 Hz) and the seconds shown.
PLOT_RATE, PLOT_SECONDS = 2, 256  # 512 floats: GNU Radio's buffers want a power of two bytes per item

#: The metric plots' sliding window, an Embedded Python Block (GRC makes its ports from the defaults).
SLIDING_WINDOW = f"""\
import numpy as np
from gnuradio import gr


class blk(gr.interp_block):
    \"\"\"Sliding window: every input item out as the vector of the last `length` values of its stream, oldest
    first. A Qt vector sink fed by these vectors redraws the recent history at every new point, like a strip chart.

    Written for GNU Radio 3.10's Qt vector sink. It plots the second vector of each work() call (input + vlen), so
    every window goes out twice: a lone vector would have it plot a stale one from its buffer. It keeps a NaN
    forever (it adds the new vector to 0 times the old one), so none goes out: a NaN input (a metric with no items
    yet) repeats the value before it, the first finite value fills the window (the history before it is drawn
    flat) and the window is all zeros until then.\"\"\"

    def __init__(self, length={PLOT_RATE * PLOT_SECONDS}, streams=4):
        gr.interp_block.__init__(
            self,
            name="Sliding window",
            in_sig=[np.float32] * streams,
            out_sig=[(np.float32, length)] * streams,
            interp=2,
        )
        self.recent = [np.zeros(length, np.float32) for _ in range(streams)]
        self.started = [False] * streams

    def work(self, input_items, output_items):
        for k, (x, out) in enumerate(zip(input_items, output_items)):
            for i, value in enumerate(x[: len(out) // 2]):  # a few points a second: a loop is fast enough
                if np.isfinite(value) and not self.started[k]:
                    self.recent[k][:] = value
                    self.started[k] = True
                elif self.started[k]:
                    self.recent[k][:-1] = self.recent[k][1:]
                    if np.isfinite(value):
                        self.recent[k][-1] = value
                out[2 * i : 2 * i + 2] = self.recent[k]
        return len(output_items[0])
"""

#: A Python Snippet run when the flowgraph has started (both GUI and headless): the metrics block then counts
#: the weights in use only, as online_finetune_twin.py resets it. ``{receivers}`` and ``{metrics}``: block ids.
RESET_ON_SWAP = """\
# The live metrics are those of the weights in use: when either AE receiver swaps new weights in, print the
# metrics of the outgoing ones and start counting afresh. Polled every 0.2 s, so the new count can include the
# last few buffers of items the outgoing weights received (not yet counted at the swap) and misses the new
# weights' first items (counted before the reset).
import threading
import time


def reset_on_swap(receivers=({receivers}), metrics=self.{metrics}):
    seen = [rx.generation() for rx in receivers]
    while True:
        time.sleep(0.2)
        now = [rx.generation() for rx in receivers]
        if now != seen:
            print(f"weights generations (radar, comm) {{tuple(seen)}}: {{metrics.summary()}}", flush=True)
            metrics.reset()
            seen = now


threading.Thread(target=reset_on_swap, name="reset_on_swap", daemon=True).start()
"""


def finetune_parameters():
    return [param(name, (0, 0), value, "intx", label) for name, _, value, label in FINETUNE_PARAMETERS]


def reset_on_swap(names, xy):
    """The RESET_ON_SWAP snippet for an AE chain's receivers and metrics (``names`` as ae_chain returns them)."""
    receivers = ", ".join(f"self.{names[rx]}" for rx in ("radar_rx", "comm_rx"))
    code = RESET_ON_SWAP.format(receivers=receivers, metrics=names["metrics"])
    return block("reset_metrics_on_swap", "snippet", xy, section="main_after_start", priority="0", code=code)


def finetune_status(tuner, names, row, y):
    """Qt labels of the fine-tuning's progress (row ``row``): the weights generation each receiver runs, the
    rounds done, the weights messages sent; and the last round's held-out check (the row below, full width)."""
    counters = [
        ("radar_generation", names["radar_rx"], "generation", "Radar receiver: weights generation", None),
        ("comm_generation", names["comm_rx"], "generation", "Comm receiver: weights generation", None),
        (
            "rounds_done",
            tuner,
            "rounds_done",
            "Fine-tuning rounds",
            "lambda x: f'{x} of {rounds}' if rounds else str(x)",
        ),
        ("weights_sent", tuner, "generation", "Weights messages sent", None),
    ]
    blocks = []
    for i, (name, block_id, getter, label, formatter) in enumerate(counters):
        blocks += probe_label(
            f"probe_{name}",
            f"label_{name}",
            (8 + 230 * i, y),
            block_id,
            getter,
            label,
            f"{row},{i},1,1",
            kind="int",
            initial="0",
            formatter=formatter,
        )
    blocks += probe_label(
        "probe_history",
        "label_last_check",
        (8 + 230 * len(counters), y),
        tuner,
        "history",
        "Last held-out check (in use -> candidate)",
        f"{row + 1},0,1,4",
        kind="raw",
        initial="[]",
        # the round's check without its "round N (steps, items): " head, which would not fit on the row
        formatter="lambda h: h[-1].describe().split(': ', 1)[1] if h else 'training starts when both windows are full'",
    )
    return blocks


def metric_plots(prefix, src, row, y):
    """Strip charts of the probed metrics of ``gui_metrics(prefix, ...)``: Pd, Pfa and SER in one Qt vector sink,
    the RMSE in another (rows ``row`` and the next), the last PLOT_SECONDS at PLOT_RATE points a second.

    Qt sinks plot streams, so each probed value rides on a decimated copy of the message stream ``src`` (times 0,
    plus the value): one point per rate / PLOT_RATE snapshots, taken when that snapshot passes (a free-running
    constant source would plot values as old as the buffer it fills ahead of its consumer). A time sink plots
    frames that do not overlap, nothing until the first is full, so the SLIDING_WINDOW block turns every point
    into the vector of the latest ones for a vector sink instead."""
    decimate, to_float, zero, window = "plot_decimate", "plot_to_float", "plot_zero", "plot_window"
    blocks = [
        block(decimate, "blocks_keep_one_in_n", (500, y), type="byte", n=f"max(1, int(rate // {PLOT_RATE}))"),
        block(to_float, "blocks_char_to_float", (700, y), scale="1"),
        block(zero, "blocks_multiply_const_vxx", (880, y), type="float", const="0"),
    ]
    conns = [c(*src, decimate, 0), c(decimate, 0, to_float, 0), c(to_float, 0, zero, 0)]
    plots = [
        # sink, title, metrics, y axis label, units and top, Qt position
        ("plot_rates", "Pd, Pfa, SER of the weights in use", ["pd", "pfa", "ser"], "Rate", "", "0.4", f"{row},0,2,2"),
        ("plot_rmse", "RMSE of the weights in use", ["rmse_deg"], "RMSE", "deg", "20", f"{row},2,2,2"),
    ]
    labels = {getter: label for getter, label, _ in METRIC_GETTERS}
    streams = [getter for _, _, getters, *_ in plots for getter in getters]
    for i, getter in enumerate(streams):
        add = f"plot_{getter}"
        blocks.append(
            block(add, "blocks_add_const_vxx", (1090, y + 80 * i), type="float", const=metric_probe(prefix, getter))
        )
        conns += [c(zero, 0, add, 0), c(add, 0, window, i)]
    points = PLOT_RATE * PLOT_SECONDS
    blocks.append(
        block(window, "epy_block", (1300, y), _source_code=SLIDING_WINDOW, length=points, streams=len(streams))
    )
    for j, (sink, title, getters, ylabel, units, ymax, hint) in enumerate(plots):
        params = dict(
            name=repr(title),
            vlen=str(points),
            x_start=f"-({points} - 1) / {PLOT_RATE}",
            x_step=f"1 / {PLOT_RATE}",
            x_axis_label="'Time (at the throttle rate)'",
            x_units="'s'",
            y_axis_label=repr(ylabel),
            y_units=repr(units),
            ymin="0",
            ymax=ymax,
            autoscale="False",
            nconnections=str(len(getters)),
            update_time="0.5",
            gui_hint=hint,
            average="1.0",
            ref_level="0",
            grid="True",
        )
        for i, getter in enumerate(getters):
            params[f"label{i + 1}"] = repr(labels[getter])
            conns.append(c(window, streams.index(getter), sink, i))
        blocks.append(block(sink, "qtgui_vector_sink_f", (1600, y + 300 * j), **params))
    return blocks, conns


def online_finetune_twin(gui: bool):
    """isac_ae_twin_sim whose AE receivers are fine-tuned while it runs (online_finetune_twin.py as a flowgraph):
    the Online Fine-Tuning block takes the twin channels' outputs with their labels and the messages, and sends
    the weights that pass its held-out check to both receivers' weights ports. The metrics are those of the
    weights in use (RESET_ON_SWAP); the GUI shows them as labels and over time, with the fine-tuning's progress.
    """

    def extend(names, src, gui, y):
        tuner = "finetune"  # not online_finetune: the module the block's code imports
        rc, cc = names["radar_channel"], names["comm_channel"]
        blocks = [
            block(
                tuner,
                "isac_ae_online_finetune",
                (1390, CHAIN_Y + 130),
                model="model",
                K="K",
                M="M",
                **{setting: name for name, setting, _, _ in FINETUNE_PARAMETERS},
                pfa="pfa",
                h0_samples="h0_samples",
                h0_seed="h0_seed",
                seed="seed",
            ),
            reset_on_swap(names, (1390, CHAIN_Y + 400)),
        ]
        # z_r, t, theta from the radar channel; z_c, kappa from the comm channel; m, the messages sent
        inputs = [(rc, 0), (rc, 1), (rc, 2), (cc, 0), (cc, 1), src]
        conns = [c(*source, tuner, port) for port, source in enumerate(inputs)]
        conns += [c(tuner, "weights", names[rx], "weights") for rx in ("radar_rx", "comm_rx")]
        if gui:  # Qt rows: the controls, the metrics, then these (the chain's plots are left out)
            blocks += finetune_status(tuner, names, CONTROL_ROWS + 1, y)
            b, cn = metric_plots("", src, CONTROL_ROWS + 3, y + 260)
            blocks += b
            conns += cn
        return blocks, conns

    fid, opts, blocks, conns = _assemble(
        "online_finetune_twin" + ("" if gui else "_no_gui"),
        "Online fine-tuning of the AE receivers on a board's digital twin",
        "isac_ae_twin_sim whose AE receivers are fine-tuned while it runs: the Online Fine-Tuning block trains them "
        "on the twin channels' labelled outputs and sends the weights that pass its held-out check to their weights "
        "ports; Pd, Pfa, RMSE, SER of the weights in use",
        gui,
        [("ae", "")],
        True,
        finetune_parameters(),
        [("", "Weights in use:")],
        twin=True,
        plots=False,
        extend=extend,
    )
    if not gui:  # the headless run stops after --items snapshots: by default, enough for the rounds
        next(b for b in blocks if b["name"] == "items")["parameters"]["value"] = FINETUNE_ITEMS
    return fid, opts, blocks, conns


def isac_baseline_sim(gui: bool):
    return _assemble(
        "isac_baseline_sim" + ("" if gui else "_no_gui"),
        "ISAC baseline simulation",
        "Model-based ISAC baseline: ISAC beam (rho, phi) + 4-QAM -> radar and comm channels -> MAPRT and ML "
        "detectors -> Pd, Pfa, RMSE, SER",
        gui,
        [("baseline", "")],
        False,
        rho_phi(gui),
        [("", "Baseline")],
    )


def isac_compare_sim(gui: bool):
    return _assemble(
        "isac_compare_sim" + ("" if gui else "_no_gui"),
        "ISAC: autoencoder vs baseline",
        "AE and baseline side by side: the same messages and the same channel draws (equal channel seeds; the "
        "C++ channels draw per item independently of their input)",
        gui,
        [("ae", ""), ("baseline", "bl_")],
        True,
        rho_phi(gui, "Baseline "),
        [("ae_", "AE"), ("bl_", "Baseline")],
    )


def isac_ae_pluto(gui: bool):
    return _assemble(
        "isac_ae_pluto" + ("" if gui else "_no_gui"),
        "ISAC autoencoder over a 2R2T Pluto (gr-iio)",
        "isac_ae_sim with the air in place of the channels: AE transmitter -> Frame Transmitter -> FMComms2 Sink "
        "(TX1, TX2); FMComms2 Source (RX1, RX2) -> Radar Frame Receiver and the comm receiver's source -> Comm "
        "Frame Receiver -> AE receivers -> Pd, Pfa, RMSE, SER. Set the scene first: isac-ae hw scene",
        gui,
        [("ae", "")],
        True,
        [],
        [("", "AE")],
        hardware=True,
    )


def isac_phaser_beampattern(gui: bool):
    """A K = 8 AE transmitter's beam scanned on a CN0566 (Phaser Beam Scan): the measured pattern next to
    the predicted one. The Phaser's Pluto plays the source tone (cyclic) on TX1 and delivers Rx1, Rx2."""
    fid = "isac_phaser_beampattern" + ("" if gui else "_no_gui")
    desc = (
        "Learned weights on a CN0566 Phaser: the AE transmitter's beam (K = 8) scanned as receive weights "
        "(quantised by the ADAR1000s), |Rx1 + Rx2|^2 per scan angle next to the core's prediction. "
        "Put the source in place first: isac-ae hw scene --device phaser --target-deg SOURCE"
    )
    blocks = [
        variable("comm_sector", (300, 8), "[30, 50]"),
        variable("target_sector", (430, 8), "[theta_min, theta_max]"),
        variable("scan_min", (630, 8), "-60"),
        variable("scan_max", (730, 8), "60"),
        variable("scan_step", (830, 8), "2"),
        variable("points", (930, 8), "int(round((scan_max - scan_min) / scan_step)) + 1"),
        block(
            "tone",
            "blocks_vector_source_x",
            (24, 420),
            type="complex",
            vector="(0.5 * numpy.exp(2j * numpy.pi * numpy.arange(1024) / 8)).tolist()",
            repeat="False",
            vlen="1",
        ),
        block("import_numpy", "import", (1030, 8), imports="import numpy"),
        iio_sink("pluto_sink", (230, 420), "sdr_uri", "1024", 1, True),
        iio_source("pluto_source", (230, 560), "sdr_uri", "4096", 2),
        block(
            "scan",
            "isac_ae_phaser_beam_scan",
            (560, 300),
            model="model",
            target_sector="target_sector",
            comm_sector="comm_sector",
            uri="uri",
            sdr_uri="sdr_uri",
            scan_min="scan_min",
            scan_max="scan_max",
            scan_step="scan_step",
            source_deg="source_deg",
            settle="32768",
            integrate="4096",
            sweeps="0" if gui else "sweeps",
            json_path="''" if gui else "json_path",
        ),
    ]
    conns = [
        c("tone", 0, "pluto_sink", 0),
        c("pluto_source", 0, "scan", 0),
        c("pluto_source", 1, "scan", 1),
    ]
    params = [
        param("model", (0, 0), repr(PHASER_MODEL), "str", "Model file (K = 8)"),
        param("uri", (0, 0), "'ip:phaser.local'", "str", "CN0566 URI"),
        param("sdr_uri", (0, 0), "'ip:192.168.2.1'", "str", "The Phaser's Pluto URI"),
        param("source_deg", (0, 0), "0", "eng_float", "Source angle (deg)"),
        param("samp_rate", (0, 0), "30000000", "intx", "Sample rate (Hz)"),
        param("lo", (0, 0), "2200000000", "intx", "Pluto LO (Hz)"),
    ]
    if gui:
        blocks += gui_controls(860, hardware=True)  # the target-sector sliders, as the Pluto flowgraph has them
        blocks += [
            block(
                "pattern",
                "qtgui_vector_sink_f",
                (860, 300),
                name="'Beampattern: measured over the air vs predicted (dB)'",
                vlen="points",
                x_start="scan_min",
                x_step="scan_step",
                x_axis_label="'Scan angle'",
                x_units="'deg'",
                y_axis_label="'Power'",
                y_units="'dB'",
                ymin="-40",
                ymax="0",
                autoscale="False",
                nconnections="2",
                update_time="0.5",
                gui_hint="1,0,2,2",
                average="1.0",
                ref_level="0",
                grid="True",
                label1="'measured'",
                label2="'predicted (nominal array)'",
            ),
        ]
        conns += [c("scan", 0, "pattern", 0), c("scan", 1, "pattern", 1)]
    else:
        blocks += [
            variable("theta_min", (0, 0), "-20"),
            variable("theta_max", (0, 0), "20"),
            null_sink("null_measured", (860, 300), "float", "points"),
            null_sink("null_predicted", (860, 400), "float", "points"),
        ]
        conns += [c("scan", 0, "null_measured", 0), c("scan", 1, "null_predicted", 0)]
        params += [
            param("sweeps", (0, 0), "1", "intx", "Sweeps to run"),
            param("json_path", (0, 0), "''", "str", "Sweep JSON"),
        ]
    blocks += place(params, 8, 720, 230)
    title = "Learned beam on a CN0566 Phaser: live beampattern" + ("" if gui else " (headless)")
    return fid, options(fid, title, desc, gui), blocks, conns


FLOWGRAPHS = [isac_ae_sim, isac_ae_twin_sim, isac_baseline_sim, isac_compare_sim, online_finetune_twin]
#: Flowgraphs with a board in them: examples/hardware (the same chains, the channel blocks swapped for gr-iio).
HARDWARE_FLOWGRAPHS = [isac_ae_pluto, isac_phaser_beampattern]


def platform():
    from gnuradio import gr
    from gnuradio.grc.core.platform import Platform

    p = Platform(
        name="isac_ae examples",
        prefs=gr.prefs(),
        version=gr.version(),
        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
    )
    p.build_library()
    return p


def check(p, path) -> list[str]:
    """Load a saved .grc as GRC does and return its error messages (empty: valid)."""
    fg = p.make_flow_graph(str(path))
    fg.grc_file_path = str(path)
    fg.import_data(p.parse_flow_graph(str(path)))
    fg.rewrite()
    fg.validate()
    missing = [f"{b.name}: block {b.key!r} not found" for b in fg.blocks if b.is_dummy_block]
    return missing + [
        f"{getattr(getattr(e, 'parent_block', None), 'name', '')} {getattr(e, 'name', e)}: {m}"
        for e, m in fg.iter_error_messages()
    ]


def main(out_dir: Path = HERE, hardware_dir: Path = HARDWARE_DIR) -> int:
    grc_dir = str(REPO / "grc")
    if grc_dir not in os.environ.get("GRC_BLOCKS_PATH", ""):
        os.environ["GRC_BLOCKS_PATH"] = os.pathsep.join(filter(None, [grc_dir, os.environ.get("GRC_BLOCKS_PATH")]))
    p = platform()
    failed = False
    for make, folder in [(m, out_dir) for m in FLOWGRAPHS] + [(m, hardware_dir) for m in HARDWARE_FLOWGRAPHS]:
        for gui in (True, False):
            fid, opts, blocks, conns = make(gui)
            data = {
                "options": opts,
                "blocks": blocks,
                "connections": conns,
                "metadata": {"file_format": 1, "grc_version": p.config.version},
            }
            fg = p.make_flow_graph()
            if fg.import_data(data):
                print(f"{fid}: connection errors", file=sys.stderr)
                failed = True
            path = folder / f"{fid}.grc"
            p.save_flow_graph(str(path), fg)
            errors = check(p, path)  # what grcc and GRC will see
            if errors:
                print(f"{fid}: invalid:\n  " + "\n  ".join(errors), file=sys.stderr)
                failed = True
            print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
