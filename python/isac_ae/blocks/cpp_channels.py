"""The C++ channel blocks (angles in degrees, as the blocks themselves take them).

``radar_channel`` is eq. (1), ``comm_channel`` eq. (2) of the paper (noise
power N0 = 1; the SNR sets the gain variance). The draws come from one seeded
stream per block: the same seed gives the same output, however the scheduler
splits the stream into work() calls. Seeds < 0 draw a seed from the OS.
"""

from __future__ import annotations

from . import checks
from .cpp_common import module, positions_list


def comm_channel(K: int = 16, positions=(), snr_db: float = 20.0, sector_deg=(30.0, 50.0), seed: int = 0):
    """Rayleigh MISO channel with CSI. In: y, v (vlen K). Out: z_c, kappa (complex), vartheta (float, rad).

    Runtime setters on the returned block: ``set_snr_db(dB)``, ``set_sector(min_deg, max_deg)``.
    """
    lo, hi = checks.sector_deg(sector_deg, "sector_deg")
    return module().comm_channel(
        checks.integer(K, "K", 1, checks.MAX_ANTENNAS),
        positions_list(positions),
        float(snr_db),
        lo,
        hi,
        checks.stream_seed(seed),
    )


def radar_channel(
    K: int = 16,
    positions=(),
    snr_db: float = 0.0,
    sector_deg=(-20.0, 20.0),
    p_target: float = 0.5,
    seed: int = 0,
):
    """Single-target radar channel. In: y (vlen K). Out: z_r (vlen K), t (byte), theta (float, rad).

    Runtime setters: ``set_snr_db``, ``set_sector(min_deg, max_deg)``, ``set_p_target``.
    """
    lo, hi = checks.sector_deg(sector_deg, "sector_deg")
    return module().radar_channel(
        checks.integer(K, "K", 1, checks.MAX_ANTENNAS),
        positions_list(positions),
        float(snr_db),
        lo,
        hi,
        float(p_target),
        checks.stream_seed(seed),
    )
