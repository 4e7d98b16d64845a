#!/usr/bin/env python3
"""The AE transmitter and receivers over a 2R2T Pluto through gr-iio (headless), against a board or its twin.

The simulation flowgraph (examples/simulation/isac_ae_sim_no_gui.grc) with its channel blocks swapped for
the air: AE Transmitter -> Frame Transmitter -> FMComms2 Sink (TX1, TX2); FMComms2 Source (RX1, RX2) ->
Radar Frame Receiver -> AE Radar Receiver; the comm receiver's Pluto (FMComms2 Source, RX1) -> Comm Frame
Receiver -> AE Comm Receiver; all into ISAC Metrics. Set the scene first (it stays for the run):

    isac-ae hw emulate --device pluto2 --port 30431 --source twin --comm-receiver &   # or a real bench
    isac-ae hw scene --device pluto2 --uri ip:127.0.0.1:30431 --target-deg 12 --comm-deg 40 \
        --snr-radar-db 6 --background-out background.json
    python examples/hardware/isac_ae_pluto_no_gui.py --uri ip:127.0.0.1:30431 --background background.json \
        --target-deg 12 --comm-deg 40 --items 40960 --metrics-json out/pluto

The labels (target present and its angle, the comm receiver's angle) are what the bench holds: give the
flowgraph the angles the scene was set to (--no-target for a run without one, which measures Pfa).
Prints one JSON line with the metrics and what the frame receivers saw. gr-iio calls libiio holding
Python's GIL: run the emulator in another process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from gnuradio import blocks, gr, iio

from isac_ae.blocks import ae_receivers, ae_transmitters, metrics, ota

PLUTO_MODEL = "pluto2/omega_0.09.safetensors"


class isac_ae_pluto_no_gui(gr.top_block):
    def __init__(
        self,
        uri,
        comm_uri,
        model,
        items,
        background,
        target_deg,
        comm_deg,
        present,
        seed,
        frame,
        rate,
        lo,
        metrics_json="",
    ):
        gr.top_block.__init__(self, "AE over a 2R2T Pluto (headless)")
        k = 2
        layout = ota.frame_layout(frame)
        messages = np.random.default_rng(seed).integers(0, 4, items).astype(np.uint8)
        self.source = blocks.vector_source_b(messages.tolist(), False)
        self.transmitter = ae_transmitters.ae_transmitter(model=model, K=k, M=4)
        self.frames = ota.frame_transmitter(K=k, frame_snapshots=frame)
        # gr-iio's FMComms2 blocks take I/Q enables per channel: [TX1, TX1, TX2, TX2]
        self.sink = iio.fmcomms2_sink_fc32(uri, [True] * 4, layout.length, False)
        self.rx = iio.fmcomms2_source_fc32(uri, [True] * 4, 8192)
        self.comm_rx = iio.fmcomms2_source_fc32(comm_uri, [True, True], 8192)
        for radio in (self.sink, self.rx, self.comm_rx):
            radio.set_frequency(lo)
            radio.set_samplerate(rate)
        for chan in (0, 1):
            self.rx.set_gain_mode(chan, "manual")
            self.rx.set_gain(chan, 30.0)
        self.comm_rx.set_gain_mode(0, "manual")
        self.comm_rx.set_gain(0, 30.0)
        self.radar_frames = ota.radar_frame_receiver(
            K=k,
            frame_snapshots=frame,
            device="pluto2",
            background=background,
            target_present=present,
            target_deg=target_deg,
        )
        self.comm_frames = ota.comm_frame_receiver(K=k, frame_snapshots=frame, comm_deg=comm_deg)
        self.radar = ae_receivers.ae_radar_receiver(model=model, K=k, M=4)
        self.comm = ae_receivers.ae_comm_receiver(model=model, K=k, M=4)
        self.metrics = metrics.isac_metrics(report_every=10**9, json_path=metrics_json, label="ae_pluto")

        self.connect(self.source, self.transmitter)
        for port in (0, 1):
            self.connect((self.transmitter, port), (self.frames, port))
            self.connect((self.frames, port), (self.sink, port))
            self.connect((self.rx, port), (self.radar_frames, port))
        self.msg_connect((self.frames, "sent"), (self.radar_frames, "sent"))
        self.connect((self.comm_rx, 0), self.comm_frames)
        self.connect((self.radar_frames, 0), self.radar)
        self.connect((self.comm_frames, 0), (self.comm, 0))
        self.connect((self.comm_frames, 1), (self.comm, 1))
        self.connect((self.radar_frames, 1), (self.metrics, 0))
        self.connect((self.radar_frames, 2), (self.metrics, 1))
        self.connect((self.radar, 3), (self.metrics, 2))
        self.connect((self.radar, 1), (self.metrics, 3))
        self.connect(self.source, (self.metrics, 4))
        self.connect(self.comm, (self.metrics, 5))
        for port in (0, 2):
            self.connect((self.radar, port), blocks.null_sink(gr.sizeof_float))
        self.connect((self.comm_frames, 2), blocks.null_sink(gr.sizeof_float))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uri", required=True, help="the 2R2T Pluto's URI (or the emulator's)")
    p.add_argument("--comm-uri", default=None, help="the comm receiver's URI (default: the next port of --uri)")
    p.add_argument("--model", default=PLUTO_MODEL, help="a K = 2 model file (default %(default)s)")
    p.add_argument("--items", type=int, default=40960, help="snapshots to send (whole frames are sent)")
    p.add_argument("--background", default="", help="the background JSON of `isac-ae hw scene`")
    p.add_argument("--target-deg", type=float, default=0.0, help="label: the target's angle, degrees")
    p.add_argument("--no-target", action="store_true", help="label: no target in the scene")
    p.add_argument("--comm-deg", type=float, default=40.0, help="label: the comm receiver's angle, degrees")
    p.add_argument("--seed", type=int, default=1, help="seed of the messages")
    p.add_argument("--frame", type=int, default=ota.DEFAULT_FRAME_SNAPSHOTS, help="snapshots per frame")
    p.add_argument("--rate", type=int, default=2_500_000, help="sample rate, Hz")
    p.add_argument("--lo", type=int, default=2_400_000_000, help="carrier, Hz")
    p.add_argument("--metrics-json", default="", help="write the metrics here when the run ends")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = p.parse_args(argv)
    if args.comm_uri is None:
        from isac_ae.hw.device import next_port_uri

        args.comm_uri = next_port_uri(args.uri)
    tb = isac_ae_pluto_no_gui(
        args.uri,
        args.comm_uri,
        args.model,
        args.items,
        args.background,
        args.target_deg,
        args.comm_deg,
        not args.no_target,
        args.seed,
        args.frame,
        args.rate,
        args.lo,
        args.metrics_json,
    )
    start = time.perf_counter()
    # gr-iio's sources never end on their own: stop once every whole frame sent has been scored
    expected = args.items // args.frame * args.frame
    tb.start()
    while tb.metrics.counts()["items"] < expected and time.perf_counter() - start < args.timeout:
        time.sleep(0.05)
    tb.stop()
    tb.wait()
    result = {
        "seconds": time.perf_counter() - start,
        "frames_sent": tb.frames.frames_sent,
        "radar_frames": tb.radar_frames.frames_found,
        "comm_frames": tb.comm_frames.frames_found,
        "comm_frames_lost": tb.comm_frames.frames_lost,
        "kappa": [[k.real, k.imag] for k in tb.comm_frames.kappas],
        "threshold": tb.radar.threshold(),
        "metrics": tb.metrics.metrics(),
    }
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    # gr-iio 3.10.5's source destructor can wait forever for its overflow thread: leave without it
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
