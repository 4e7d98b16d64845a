"""Over-the-air channels: the core's channel seam (:class:`isac_ae.channels.Channels`) on a board.

:class:`OverTheAirLink` turns a digital board (:class:`~isac_ae.hw.device.Transceiver`),
its comm receiver (:class:`~isac_ae.hw.device.CommReceiver`) and a scene
controller into the radar and comm channels that :func:`isac_ae.evaluation.evaluate`
calls, so a model or the baseline is evaluated on a board (or its twin behind
the emulator) by the same code as in simulation.

The N snapshots of one call are sent in blocks of ``block`` snapshots. Each
block is one scene, drawn from the scenario with the caller's generator as
the simulated channels draw theirs: a target present with probability
p_target at theta ~ U[target sector], the comm receiver at vartheta ~ U[comm
sector]. The scene controller puts it in place, the board transmits the
block's frame (:mod:`isac_ae.hw.frames`) and both receivers capture it. So
targets and angles are drawn per block, not per snapshot: the snapshots of a
block share them, which a real bench cannot avoid (a reflector is moved, not
redrawn per sample); the test statistics then have fewer independent angles
than snapshots, and ``block`` trades device time against that.

On a twin the scene also sets the target's and the comm channel's RMS
amplitudes so that the scenario's SNR_r and SNR_c hold for the measured
noise floor (the board's own gains come on top, as the impairment they are);
on a bench the operator cannot, and the SNR is what the bench gives.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..channels import Beamformed, Channels, CommDraw, RadarDraw
from ..scenario import Scenario
from .background import Background
from .calibration import utc_now
from .device import CommReceiver, Transceiver
from .frames import CommBlock, FrameError, FrameLayout, build_frame, comm_block, radar_block
from .scene import Scene, SceneController, Target


@dataclass
class LinkStats:
    """What a run cost: snapshots sent, scenes set, device (wall) time in seconds, comm frames lost."""

    snapshots: int = 0
    scenes: int = 0
    seconds: float = 0.0
    lost_comm_frames: int = 0


class OverTheAirLink:
    """One transmission per block serves both the radar channel and the comm channel."""

    def __init__(
        self,
        scenario: Scenario,
        board: Transceiver,
        comm: CommReceiver,
        scenes: SceneController,
        block: int = 4096,
        layout: Optional[FrameLayout] = None,
    ):
        board.profile.check_scenario(scenario)
        if block < 1:
            raise ValueError(f"block must be a positive number of snapshots, got {block}")
        self.scenario = scenario
        self.board, self.comm, self.scenes = board, comm, scenes
        self.block = block
        self.layout = layout or FrameLayout(data=block)
        self.stats = LinkStats()
        self._background: Optional[Background] = None
        self._last: Optional[tuple[Beamformed, CommDraw]] = None

    def channels(self) -> Channels:
        return Channels(radar=_Radar(self), comm=_Comm(self))

    # -- levels -------------------------------------------------------------------
    def noise_floor(self) -> tuple[float, float]:
        """Noise power (full scale) at the board's RX (mean over channels) and at the comm receiver, measured
        once with the scene empty, together with the board's direct leakage (see :meth:`background`)."""
        background = self.background()
        return float(np.mean(background.noise_power)), background.comm_noise_power

    def background(self, frames: int = 4) -> Background:
        """Measure once, with the scene empty, what the radar side removes from every later frame: the direct
        TX-to-RX leakage (least squares over ``frames`` preambles; measured with a target present it would
        also take a still reflector's echo away) and each RX channel's noise power (over ``frames`` quiet
        sections: +-1.6 % for 4 frames, against +-3 % from one); and the comm receiver's noise power with the
        board silent (on a bench it hears the board whenever the board sends)."""
        if self._background is not None:
            return self._background
        k = self.board.profile.num_elements
        self.scenes.set(Scene())
        layout = self.layout
        self.board.send(np.zeros((k, layout.length), np.complex64))
        self.comm.flush()
        comm_noise = float(np.var(self.comm.capture(layout.length)))
        frame = build_frame(layout, np.ones(k) / math.sqrt(k), np.ones(layout.data))
        self.board.send(frame)
        blocks = [radar_block(layout, self.board.capture(2 * layout.length + 64), frame) for _ in range(frames)]
        self._background = Background(
            device=self.board.profile.name,
            uri=self.board.uri,
            date=utc_now(),
            leakage=np.mean([b.leakage for b in blocks], axis=0),
            noise_power=np.mean([b.noise_power for b in blocks], axis=0),
            comm_noise_power=comm_noise,
        )
        return self._background

    def amplitudes(self) -> tuple[float, float]:
        """(target, comm) RMS amplitudes that give a twin's scenes the scenario's SNR_r and SNR_c at the
        measured noise floor (a bench ignores them)."""
        radar_noise, comm_noise = self.noise_floor()
        return (
            self.layout.amplitude_for(self.scenario.radar_gain_var, radar_noise),
            self.layout.amplitude_for(self.scenario.comm_gain_var, comm_noise),
        )

    # -- one call -----------------------------------------------------------------
    def _capture(self, beam: np.ndarray, symbols: np.ndarray, comm: bool = True):
        """The radar block of one frame, and the comm block unless ``comm`` is False (an H0 set needs none)."""
        background = self.background()  # what the radar side removes
        layout = FrameLayout(**{**self.layout.__dict__, "data": len(symbols)})
        frame = build_frame(layout, beam, symbols)
        self.board.send(frame)
        self.comm.flush()
        length = 2 * layout.length + 64
        radar = radar_block(layout, self.board.capture(length), frame, background.leakage, background.noise_power)
        if not comm:
            return radar, None
        try:
            comm = comm_block(layout, self.comm.capture(length), frame.shape[0])
        except FrameError:
            # A frame the comm receiver cannot find (a deep fade) is lost: its symbols count as decided
            # from nothing (kappa NaN), as a real link loses them.
            self.stats.lost_comm_frames += 1
            comm = CommBlock(
                z=np.zeros(layout.data, np.complex64),
                kappa=np.full(layout.data, np.nan, np.complex64),
                cfo_cycles_per_sample=math.nan,
                noise_power=math.nan,
            )
        return radar, comm

    def run(self, y: Beamformed, generator: torch.Generator, target: Optional[bool]) -> tuple[RadarDraw, CommDraw]:
        """Send the N snapshots of ``y`` block by block; the radar and comm draws of all of them."""
        if not isinstance(y, Beamformed) or y.beam.ndim != 1:
            raise ValueError("a board transmits symbols on one beam: give y as Beamformed with a (K,) beam")
        start = time.perf_counter()
        amp_radar, amp_comm = self.amplitudes()
        sc, device = self.scenario, y.symbols.device
        # y = x v as the system made it (E||y||^2 = 1): the frame sends exactly that, scaled by tx_scale.
        beam = y.beam.detach().cpu().numpy().astype(np.complex128)
        symbols = y.symbols.detach().cpu().numpy()
        n = symbols.shape[-1]
        z, zc, kappa, t, theta, vartheta = [], [], [], [], [], []
        lo_t, hi_t = sc.target_sector_rad
        lo_c, hi_c = sc.comm_sector_rad
        for first in range(0, n, self.block):
            count = min(self.block, n - first)
            u = torch.rand(3, generator=generator, device=device).cpu().numpy()
            present = bool(u[0] < sc.p_target) if target is None else bool(target)
            angle, comm_angle = lo_t + (hi_t - lo_t) * u[1], lo_c + (hi_c - lo_c) * u[2]
            # An H0 set (target False) feeds the radar receiver only: the comm receiver is neither moved (on a
            # bench a pointless prompt) nor captured.
            with_comm = target is not False
            self.scenes.set(
                Scene(
                    targets=(Target(math.degrees(angle), amp_radar),) if present else (),
                    comm_angle_deg=math.degrees(comm_angle) if with_comm else None,
                    comm_amplitude=amp_comm if with_comm else 0.0,
                )
            )
            radar, comm = self._capture(beam, symbols[first : first + count], comm=with_comm)
            if comm is None:
                comm = CommBlock(
                    np.zeros(count, np.complex64), np.full(count, np.nan, np.complex64), math.nan, math.nan
                )
            z.append(radar.z)
            zc.append(comm.z)
            kappa.append(comm.kappa)
            t.append(np.full(count, present))
            theta.append(np.full(count, angle))
            vartheta.append(np.full(count, comm_angle))
            self.stats.scenes += 1
        self.stats.snapshots += n
        self.stats.seconds += time.perf_counter() - start
        as_tensor = lambda a, dtype: torch.as_tensor(np.concatenate(a), dtype=dtype, device=device)  # noqa: E731
        nan = torch.full((n,), complex(math.nan, math.nan), dtype=torch.complex64, device=device)
        radar_draw = RadarDraw(
            z=as_tensor(z, torch.complex64),
            target=as_tensor(t, torch.bool),
            theta=as_tensor(theta, torch.float32),
            alpha=nan,
        )
        comm_draw = CommDraw(
            z=as_tensor(zc, torch.complex64),
            kappa=as_tensor(kappa, torch.complex64),
            vartheta=as_tensor(vartheta, torch.float32),
            beta=nan,
        )
        return radar_draw, comm_draw


class _Radar:
    """The link's radar channel (the RadarChannelProtocol); it keeps the comm draw of the same call."""

    def __init__(self, link: OverTheAirLink):
        self.link = link
        self.scenario = link.scenario

    def __call__(self, y, generator, target=None) -> RadarDraw:
        self.link._last = None
        radar, comm = self.link.run(y, generator, target)
        self.link._last = (y, comm)  # the object itself: an id() can be reused once y is freed
        return radar


class _Comm:
    """The link's comm channel: the comm receiver's capture of the transmission the radar call made."""

    def __init__(self, link: OverTheAirLink):
        self.link = link

    def __call__(self, y, generator) -> CommDraw:
        last = self.link._last
        if last is not None and last[0] is y:
            self.link._last = None
            return last[1]
        return self.link.run(y, generator, None)[1]
