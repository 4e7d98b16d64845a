"""The device trees of the emulated boards, written from what pyadi-iio and gr-iio read.

Each profile is a list of contexts (one per URI). Attribute names, value
formats, ranges and rounding follow the Linux drivers the clients talk to
(ad9361, cf_axi_adc/dds, adar1000, adf4159, ad7291, one-bit-adc-dac, ad9081,
hmc425a); values that only a real chip measures (RSSI, temperatures) are fixed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .source import DEFAULT_SCENE, SCENE_ATTR, parse_scene
from .tree import (
    FORMAT_S12,
    FORMAT_S16,
    Attr,
    Channel,
    ContextTree,
    Device,
    boolean,
    choice,
    integer,
    parse_number,
    read_only,
    registers,
)

# --- AD9361 -----------------------------------------------------------------------------------

#: RF PLL: 40 MHz reference, fractional-N modulus, VCO range (AD9361 data sheet, Linux ad9361 driver).
_RFPLL_REF_HZ = 40_000_000
_RFPLL_MODULUS = 8_388_593
_VCO_MIN_HZ = 6_000_000_000
LO_RANGE_HZ = (70_000_000, 6_000_000_000)
#: Lowest rate without the FIR decimating by 4 (25 MHz / 12), lowest and highest rate overall.
_RATE_NO_FIR_MIN = 25_000_000 // 12 + 1
RATE_RANGE_HZ = (520_834, 61_440_000)
#: RX manual gain range (dB) of the full gain table by LO band: up to 1.3 GHz, up to 4 GHz, above.
_RX_GAIN_DB = ((1_300_000_000, -1, 73), (4_000_000_000, -3, 71), (None, -10, 62))


def ad9361_lo(hz: float) -> int:
    """The LO frequency the AD9361 RF PLL synthesises for a request (what the driver reads back).

    The VCO runs at hz * 2^(d+1) in [6, 12] GHz; N = integer + fraction/8388593
    of the 40 MHz reference, the fraction rounded and the read-back truncated
    to 1 Hz, as the Linux driver computes it.
    """
    hz = int(hz)
    if not LO_RANGE_HZ[0] <= hz <= LO_RANGE_HZ[1]:
        raise ValueError(f"LO {hz} Hz outside [{LO_RANGE_HZ[0]}, {LO_RANGE_HZ[1]}]")
    shift = 1
    while (hz << shift) < _VCO_MIN_HZ:
        shift += 1
    vco = hz << shift
    whole, rest = divmod(vco, _RFPLL_REF_HZ)
    frac = (rest * _RFPLL_MODULUS + _RFPLL_REF_HZ // 2) // _RFPLL_REF_HZ
    return (_RFPLL_REF_HZ * whole + _RFPLL_REF_HZ * frac // _RFPLL_MODULUS) >> shift


def _rx_gain_range(lo_hz: float) -> tuple[int, int]:
    for top, lo, hi in _RX_GAIN_DB:
        if top is None or lo_hz <= top:
            return lo, hi
    raise AssertionError("unreachable")


def _db(value: float) -> str:
    return f"{value:.6f} dB"


class _Ad9361:
    """The attributes of one AD9361 and the rules tying them together (FIR, rates, gains)."""

    def __init__(self, sample_rate: int = 30_720_000, lo_hz: int = 2_400_000_000):
        self.rate = Attr(str(sample_rate), self._write_rate)
        self.fir_en = Attr("0", self._write_fir_en)
        self.fir_taps, self.fir_dec, self.fir_int = 128, 1, 1
        self.fir_config = Attr(
            "",
            self._write_fir_config,
            lambda: f"FIR Rx: {self.fir_taps},{self.fir_dec} Tx: {self.fir_taps},{self.fir_int}",
        )
        self.rx_lo = Attr(str(ad9361_lo(lo_hz)), lambda t: str(ad9361_lo(parse_number(t))))
        self.tx_lo = Attr(str(ad9361_lo(lo_hz)), lambda t: str(ad9361_lo(parse_number(t))))

    # the lowest rates need the FIR decimating by 4, as in the driver
    def sample_rate(self) -> int:
        return int(self.rate.value)

    def _write_rate(self, text: str) -> str:
        rate = round(parse_number(text))
        if not RATE_RANGE_HZ[0] <= rate <= RATE_RANGE_HZ[1]:
            raise ValueError(f"sample rate {rate} outside {RATE_RANGE_HZ}")
        if rate < _RATE_NO_FIR_MIN and not (self.fir_en.value == "1" and self.fir_dec >= 4):
            raise ValueError("rates below 2.083 MHz need the FIR enabled with decimation 4")
        return str(rate)

    def _write_fir_en(self, text: str) -> str:
        value = boolean()(text)
        if value == "0" and int(self.rate.value) < _RATE_NO_FIR_MIN:
            raise ValueError("cannot disable the FIR below 2.083 MHz")
        if value == "1" and self.fir_dec == 1 and self.fir_config.value == "":
            raise ValueError("no FIR loaded")
        return value

    def _write_fir_config(self, text: str) -> str:
        rx = re.search(r"^\s*RX\s+\d+\s+GAIN\s+-?\d+\s+DEC\s+(\d+)", text, re.MULTILINE)
        tx = re.search(r"^\s*TX\s+\d+\s+GAIN\s+-?\d+\s+INT\s+(\d+)", text, re.MULTILINE)
        taps = re.findall(r"^\s*-?\d+\s*,\s*-?\d+\s*$", text, re.MULTILINE)
        if rx is None or tx is None or not taps or len(taps) > 128 or len(taps) % 16:
            raise ValueError("not an AD9361 FIR configuration")
        dec, interp = int(rx.group(1)), int(tx.group(1))
        if dec not in (1, 2, 4) or interp not in (1, 2, 4):
            raise ValueError("FIR decimation/interpolation must be 1, 2 or 4")
        self.fir_taps, self.fir_dec, self.fir_int = len(taps), dec, interp
        return "loaded"

    def path_rates(self, tx: bool) -> str:
        """rx_path_rates / tx_path_rates: the clock chain from the BB PLL to the sample rate.

        Each half-band stage doubles the rate, the DAC runs at half the ADC
        rate, the BB PLL is the ADC clock times a power of 2 in its range.
        """
        rate = int(self.rate.value)
        fir = rate * ((self.fir_int if tx else self.fir_dec) if self.fir_en.value == "1" else 1)
        adc = 8 * fir
        bbpll = adc
        while bbpll < 715_000_000:
            bbpll *= 2
        if tx:
            return f"BBPLL:{bbpll} DAC:{adc // 2} T2:{4 * fir} T1:{2 * fir} TF:{fir} TXSAMP:{rate}"
        return f"BBPLL:{bbpll} ADC:{adc} R2:{4 * fir} R1:{2 * fir} RF:{fir} RXSAMP:{rate}"

    def rx_channels(self, count: int) -> list[Channel]:
        """RX1..RXcount of ad9361-phy: gain and AGC per channel, the rest shared by all inputs."""
        shared = {
            "gain_control_mode_available": read_only("manual fast_attack slow_attack hybrid"),
            "rf_bandwidth": Attr("18000000", integer(200_000, 56_000_000)),
            "rf_bandwidth_available": read_only("[200000 1 56000000]"),
            "rf_port_select": Attr("A_BALANCED", choice(_RX_PORTS)),
            "rf_port_select_available": read_only(_RX_PORTS),
            "sampling_frequency": self.rate,
            "sampling_frequency_available": read_only("[520833 1 61440000]"),
            "filter_fir_en": self.fir_en,
            "quadrature_tracking_en": Attr("1", boolean()),
            "rf_dc_offset_tracking_en": Attr("1", boolean()),
            "bb_dc_offset_tracking_en": Attr("1", boolean()),
        }
        channels = []
        for index in range(count):
            mode = Attr("slow_attack", choice("manual fast_attack slow_attack hybrid"))
            attrs = {
                "hardwaregain": Attr(_db(71), self._rx_gain_writer(mode)),
                "hardwaregain_available": read_only(
                    read=lambda: "[{} 1 {}]".format(*_rx_gain_range(int(self.rx_lo.value)))
                ),
                "gain_control_mode": mode,
                "rssi": read_only("102.25 dB"),
            }
            channels.append(Channel(f"voltage{index}", False, attrs=attrs | shared, shared=frozenset(shared)))
        return channels

    def _rx_gain_writer(self, mode: Attr) -> Callable[[str], str]:
        def write(text: str) -> str:
            if mode.value != "manual":
                raise ValueError("hardwaregain is set by the AGC unless gain_control_mode is manual")
            lo, hi = _rx_gain_range(int(self.rx_lo.value))
            gain = round(parse_number(text))
            if not lo <= gain <= hi:
                raise ValueError(f"RX gain {gain} dB outside [{lo}, {hi}] at this LO")
            return _db(gain)

        return write

    def tx_channels(self, count: int) -> list[Channel]:
        """TX1..TXcount of ad9361-phy: attenuation per channel, the rest shared by all outputs."""

        def attenuation(text: str) -> str:
            value = parse_number(text)
            if not -89.75 <= value <= 0:
                raise ValueError("TX hardwaregain (attenuation) must be in [-89.75, 0] dB")
            return _db(round(value * 4) / 4)

        shared = {
            "rf_bandwidth": Attr("18000000", integer(200_000, 40_000_000)),
            "rf_bandwidth_available": read_only("[200000 1 40000000]"),
            "rf_port_select": Attr("A", choice("A B")),
            "rf_port_select_available": read_only("A B"),
            "sampling_frequency": self.rate,
            "sampling_frequency_available": read_only("[520833 1 61440000]"),
            "filter_fir_en": self.fir_en,
        }
        return [
            Channel(
                f"voltage{index}",
                True,
                attrs={
                    "hardwaregain": Attr(_db(-10), attenuation),
                    "hardwaregain_available": read_only("[-89.750000 0.250000 0.000000]"),
                    "rssi": read_only("0.00 dB"),
                }
                | shared,
                shared=frozenset(shared),
            )
            for index in range(count)
        ]

    def lo_channel(self, index: int, name: str, value: Attr) -> Channel:
        return Channel(
            f"altvoltage{index}",
            True,
            name=name,
            attrs={
                "frequency": value,
                "frequency_available": read_only(f"[{LO_RANGE_HZ[0]} 1 {LO_RANGE_HZ[1]}]"),
                "external": Attr("0", boolean()),
                "powerdown": Attr("0", boolean()),
                "fastlock_store": Attr("0"),
                "fastlock_recall": Attr("0"),
                "fastlock_load": Attr("0"),
                "fastlock_save": Attr("0"),
            },
        )


#: The AXI DDS's phase accumulator has 16 bits: every tone repeats after 2^16 samples.
DDS_PERIOD = 1 << 16

_RX_PORTS = "A_BALANCED B_BALANCED C_BALANCED A_N A_P B_N B_P C_N C_P TX_MONITOR1 TX_MONITOR2 TX_MONITOR1_2"


def _ad9361_devices(n_channels: int, scene: Attr, suffix: str = "") -> tuple[Device, _Ad9361]:
    """The ``ad9361-phy`` device of an AD9361 with ``n_channels`` RX/TX channels (1 or 2)."""
    chip = _Ad9361()
    channels = chip.rx_channels(n_channels) + chip.tx_channels(n_channels)
    channels += [chip.lo_channel(0, "RX_LO", chip.rx_lo), chip.lo_channel(1, "TX_LO", chip.tx_lo)]
    channels.append(Channel("out", False, attrs={"voltage_filter_fir_en": chip.fir_en}))
    channels.append(Channel("temp0", False, attrs={"input": read_only("30000")}))
    phy = Device(
        "",
        "ad9361-phy" + suffix,
        channels=channels,
        attrs={
            "filter_fir_config": chip.fir_config,
            "rx_path_rates": read_only(read=lambda: chip.path_rates(False)),
            "tx_path_rates": read_only(read=lambda: chip.path_rates(True)),
            "ensm_mode": Attr("fdd", choice("sleep wait alert fdd pinctrl pinctrl_fdd_indep")),
            "ensm_mode_available": read_only("sleep wait alert fdd pinctrl pinctrl_fdd_indep"),
            "calib_mode": Attr("auto", choice("auto manual manual_tx_quad tx_quad rf_dc_offs rssi_gain_step")),
            "calib_mode_available": read_only("auto manual manual_tx_quad tx_quad rf_dc_offs rssi_gain_step"),
            "trx_rate_governor": Attr("nominal", choice("nominal highest_osr")),
            "trx_rate_governor_available": read_only("nominal highest_osr"),
            "xo_correction": Attr("40000000", integer(39_900_000, 40_100_000)),
            "dcxo_tune_coarse": Attr("0", integer(0, 63)),
            "dcxo_tune_fine": Attr("0", integer(0, 8191)),
            "multichip_sync": Attr("0"),
            "rssi_gain_step_error": read_only("lna_error: 0 0 0 0\nmixer_error: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"),
        },
        debug={
            "loopback": Attr("0", integer(0, 2)),
            "initialize": Attr("0"),
            "direct_reg_access": registers(),
            "bist_prbs": Attr("0", integer(0, 2)),
            "bist_tone": Attr("0"),
            "calibration_switch_control": Attr("0"),
            "digital_tune": Attr("0"),
            "adi,frequency-division-duplex-mode-enable": Attr("1", boolean()),
            "adi,ensm-enable-txnrx-control-enable": Attr("0", boolean()),
            "adi,ensm-enable-pin-pulse-mode-enable": Attr("0", boolean()),
            "adi,2rx-2tx-mode-enable": Attr("1" if n_channels == 2 else "0", boolean()),
            SCENE_ATTR: scene,
        },
    )
    return phy, chip


def _fpga_rate(chip: _Ad9361) -> Attr:
    """sampling_frequency of cf-ad9361-lpc / -dds-core: the AD9361 rate, or an eighth of it
    with the FPGA's decimate/interpolate-by-8 filter (as on the Pluto)."""
    factor = 1

    def write(text: str) -> str:
        nonlocal factor
        rate, value = int(chip.rate.value), round(parse_number(text))
        if value not in (rate, rate // 8):
            raise ValueError(f"FPGA rate must be {rate} or {rate // 8}")
        factor = 1 if value == rate else 8
        return ""

    return Attr("", write, lambda: str(int(chip.rate.value) // factor))


def _converter_channels(count: int, output: bool, chip: _Ad9361, fmt: str) -> list[Channel]:
    """The DMA channels voltage0..count-1 of cf-ad9361-lpc (RX) or cf-ad9361-dds-core-lpc (TX)."""
    shared = {
        "sampling_frequency": _fpga_rate(chip),
        "sampling_frequency_available": read_only(read=lambda: f"{chip.rate.value} {int(chip.rate.value) // 8}"),
    }
    channels = []
    for index in range(count):
        attrs = {"calibscale": Attr("1.000000"), "calibphase": Attr("0.000000")}
        if not output:
            attrs.update({"calibbias": Attr("0"), "samples_pps": read_only("0")})
        channels.append(
            Channel(
                f"voltage{index}", output, scan_index=index, fmt=fmt, attrs=attrs | shared, shared=frozenset(shared)
            )
        )
    return channels


def dds_tones(count: int, rate: Callable[[], int], first: int = 0) -> list[Channel]:
    """Two DDS tones per I and per Q of TX1..TXcount, named as the AXI DDS cores name them
    (TX1_I_F1, TX1_I_F2, TX1_Q_F1, ...), feeding the radio's TX channels first, first + 1, ...

    ``rate`` is the DDS clock (the TX sample rate). ``raw`` is one switch for the whole core.
    """
    enable = Attr("1", boolean())
    out = []
    for k in range(count):
        for part, part_name in enumerate("IQ"):
            for tone in (1, 2):
                out.append(
                    Channel(
                        f"altvoltage{len(out)}",
                        True,
                        name=f"TX{k + 1}_{part_name}_F{tone}",
                        tone=(first + k, part),
                        attrs={
                            "raw": enable,
                            "frequency": _dds_frequency(rate),
                            "scale": Attr("0.000000", _dds_scale),
                            "phase": Attr("90000" if part == 0 else "0", integer(0, 360_000)),
                            "sampling_frequency": read_only(read=lambda: str(rate())),
                        },
                    )
                )
    return out


def _dds_frequency(rate: Callable[[], int]) -> Attr:
    """A tone's frequency: a 16-bit phase increment of the DDS clock, read back as increment x rate / 2^16."""
    increment = round(9_279_985 * DDS_PERIOD / rate())

    def write(text: str) -> str:
        nonlocal increment
        hz = parse_number(text)
        if hz < 0:
            raise ValueError("DDS frequency must be >= 0")
        # the driver takes any frequency; the 16-bit increment wraps at the DDS clock
        increment = round(hz * DDS_PERIOD / rate()) % DDS_PERIOD
        return ""

    return Attr("", write, lambda: str(increment * rate() // DDS_PERIOD))


def _dds_scale(text: str) -> str:
    value = parse_number(text)
    if not 0 <= value <= 1:
        raise ValueError("DDS scale must be in [0, 1]")
    return f"{value:.6f}"


def _buffer_attrs() -> dict[str, Attr]:
    return {"length_align_bytes": read_only("8"), "data_available": read_only("0")}


def _number(devices: list[Device]) -> list[Device]:
    for i, dev in enumerate(devices):
        dev.id = f"iio:device{i}"
    return devices


def _ad9361_context(description: str, radio: str, scene: Attr, hw_model: str, channels: int = 2) -> ContextTree:
    """An AD9361 with ``channels`` RX and TX (2R2T, or 1R1T as a stock Pluto): ad9361-phy,
    cf-ad9361-dds-core-lpc (TX + DDS) and cf-ad9361-lpc (RX)."""
    phy, chip = _ad9361_devices(channels, scene)
    tx = Device(
        "",
        "cf-ad9361-dds-core-lpc",
        stream="tx",
        bits=12,
        channels=_converter_channels(2 * channels, True, chip, FORMAT_S16) + dds_tones(channels, chip.sample_rate),
        buffer=_buffer_attrs(),
        debug={"direct_reg_access": registers()},
    )
    rx = Device(
        "",
        "cf-ad9361-lpc",
        stream="rx",
        bits=12,
        channels=_converter_channels(2 * channels, False, chip, FORMAT_S12),
        buffer=_buffer_attrs(),
        debug={"direct_reg_access": registers()},
    )
    return ContextTree(
        description,
        _number([phy, tx, rx]),
        radio=radio,
        attrs={"hw_model": hw_model, "ad9361-phy,model": "ad9361", "local,kernel": "emulated"},
    )


#: Radio of the separate one-antenna comm receiver (a stock 1R1T Pluto) served after a board's contexts.
COMM_RADIO = "comm"


def comm_receiver(scene: Attr) -> ContextTree:
    """The comm receiver of the paper's loop: a 1R1T Pluto (``adi.Pluto``) with its own sample clock."""
    return _ad9361_context(
        "isac-ae IIO emulator: comm receiver (Pluto 1R1T)",
        COMM_RADIO,
        scene,
        "Analog Devices PlutoSDR Rev.B (emulated comm receiver)",
        channels=1,
    )


def pluto2(scene: Attr) -> list[ContextTree]:
    """An ADALM-Pluto rev C/D in 2R2T mode (the AD9361 pyadi-iio's ``adi.ad9361`` drives)."""
    return [
        _ad9361_context(
            "isac-ae IIO emulator: Pluto 2R2T (AD9361)",
            "pluto",
            scene,
            "Analog Devices PlutoSDR Rev.C (emulated, 2R2T)",
        )
    ]


def fmcomms5(scene: Attr) -> list[ContextTree]:
    """An FMComms5: two AD9361 (ad9361-phy and ad9361-phy-B), one 8-word RX and TX DMA (4R4T)."""
    phy_a, chip_a = _ad9361_devices(2, scene)
    phy_b, chip_b = _ad9361_devices(2, scene, suffix="-B")
    del phy_b.debug[SCENE_ATTR]
    rx_a = Device(
        "",
        "cf-ad9361-A",
        stream="rx",
        bits=12,
        channels=_converter_channels(8, False, chip_a, FORMAT_S12),
        buffer=_buffer_attrs(),
        debug={"direct_reg_access": registers()},
    )
    rx_b = Device(
        "",
        "cf-ad9361-B",
        channels=[
            Channel(f"voltage{i}", False, attrs={"calibscale": Attr("1.000000"), "calibphase": Attr("0.000000")})
            for i in range(4)
        ],
        debug={"direct_reg_access": registers()},
    )
    tx_a = Device(
        "",
        "cf-ad9361-dds-core-lpc",
        stream="tx",
        bits=12,
        channels=_converter_channels(8, True, chip_a, FORMAT_S16) + dds_tones(2, chip_a.sample_rate),
        buffer=_buffer_attrs(),
        debug={"direct_reg_access": registers()},
    )
    # chip B's DDS core names its tones TX1/TX2 again; they feed the radio's TX3/TX4
    tx_b = Device(
        "",
        "cf-ad9361-dds-core-B",
        channels=dds_tones(2, chip_b.sample_rate, first=2),
        debug={"direct_reg_access": registers()},
    )
    devices = _number([phy_a, phy_b, rx_a, rx_b, tx_a, tx_b])
    return [
        ContextTree(
            "isac-ae IIO emulator: FMComms5 (2x AD9361, 4R4T)",
            devices,
            radio="fmcomms5",
            attrs={"hw_model": "FMComms5 (emulated)", "local,kernel": "emulated"},
        )
    ]


# --- CN0566 Phaser ----------------------------------------------------------------------------

#: ADAR1000 phase step: 7-bit vector modulator, 360/128 degrees.
ADAR1000_PHASE_STEP_DEG = 360.0 / 128


def adar1000_phase(text: str) -> str:
    """The phase the ADAR1000 applies for a request: nearest multiple of 360/128 degrees, in [0, 360)."""
    steps = round(parse_number(text) / ADAR1000_PHASE_STEP_DEG) % 128
    return f"{steps * ADAR1000_PHASE_STEP_DEG:.6f}"


def _adar1000(label: str) -> Device:
    channels = []
    for output in (False, True):
        for k in range(4):
            attrs = {
                "hardwaregain": Attr("0", integer(0, 127)),
                "phase": Attr("0.000000", adar1000_phase),
                "powerdown": Attr("1", boolean()),
                "attenuation": Attr("1", boolean()),
                "beam_pos_load": Attr("0", integer(0, 120)),
                "beam_pos_save": Attr(""),
                "sequence_start": Attr("0", integer(0, 120)),
                "sequence_end": Attr("0", integer(0, 120)),
                "bias_set_load": Attr("0", integer(0, 6)),
                "bias_set_save": Attr(""),
            }
            if output:
                attrs.update(
                    {
                        "detector_en": Attr("0", boolean()),
                        "raw": read_only("0"),
                        "pa_bias_on": Attr("0", integer(0, 255)),
                        "pa_bias_off": Attr("0", integer(0, 255)),
                    }
                )
            channels.append(Channel(f"voltage{k}", output, attrs=attrs))
    channels.append(Channel("temp0", False, attrs={"raw": read_only("145")}))
    flags = [
        "beam_mem_enable",
        "bias_enable",
        "bias_ctrl",
        "bias_mem_enable",
        "common_mem_enable",
        "sw_drv_tr_mode_sel",
        "sw_drv_tr_state",
        "lna_bias_out_enable",
        "pol",
        "sw_drv_en_pol",
        "rx_en",
        "rx_lna_enable",
        "rx_vga_enable",
        "rx_vm_enable",
        "sequencer_enable",
        "tr_source",
        "tr_spi",
        "sw_drv_en_tr",
        "tx_en",
        "tx_drv_enable",
        "tx_vga_enable",
        "tx_vm_enable",
    ]
    attrs = {name: Attr("0", boolean()) for name in flags}
    attrs.update(
        {
            name: Attr("0", integer(0, 255))
            for name in (
                "lna_bias_on",
                "lna_bias_off",
                "bias_current_rx_lna",
                "bias_current_rx",
                "bias_current_tx",
                "bias_current_tx_drv",
                "rx_to_tx_delay_1",
                "rx_to_tx_delay_2",
                "tx_to_rx_delay_1",
                "tx_to_rx_delay_2",
            )
        }
    )
    attrs.update(
        {
            "static_rx_beam_pos_load": Attr("0", integer(0, 120)),
            "static_tx_beam_pos_load": Attr("0", integer(0, 120)),
            "gen_clk_cycles": Attr(""),
            "rx_load_spi": Attr("0", boolean()),
            "tx_load_spi": Attr("0", boolean()),
            "reset": Attr("0", boolean()),
        }
    )
    return Device("", "adar1000", label=label, channels=channels, attrs=attrs, debug={"direct_reg_access": registers()})


_ADF4159_DEBUG = (
    "adi,phase",
    "adi,txdata-trigger-delay-enable",
    "adi,single-full-triangle-enable",
    "adi,txdata-trigger-enable",
    "adi,ramp-delay-enable",
    "adi,delay-clk-sel-pfd-x-clk1-enable",
    "adi,delay-start-enable",
    "adi,delay-start-word",
    "adi,clk-div-mode",
    "adi,ramp-enable",
    "adi,clk1-div",
    "adi,clk2-timer-div",
    "adi,muxout-select",
)
_RAMP_MODES = "disabled continuous_sawtooth continuous_triangular single_sawtooth_burst single_ramp_burst"
#: The CN0566's GPIOs (one-bit-adc-dac): outputs, then the PLL's MUXOUT input.
_CN0566_GPIO_OUT = ("VCTRL_1", "VCTRL_2", "DIV_MR", "DIV_S0", "DIV_S1", "DIV_S2", "RX_LOAD", "TR", "TX_SW")
_CN0566_GPIO_IN = ("MUXOUT",)


def _adf4159(scene: Attr) -> Device:
    pll = Channel(
        "altvoltage0",
        True,
        attrs={
            # the ADF4159 sees the 10-10.5 GHz VCO divided by 4
            "frequency": Attr("2625000000", integer(500_000_000, 3_250_000_000)),
            "frequency_deviation_range": Attr("0", integer(0, 2**31 - 1)),
            "frequency_deviation_step": Attr("0", integer(0, 2**31 - 1)),
            "frequency_deviation_time": Attr("0", integer(0, 2**31 - 1)),
            "ramp_mode": Attr("disabled", choice(_RAMP_MODES)),
            "ramp_mode_available": read_only(_RAMP_MODES),
            "powerdown": Attr("0", boolean()),
        },
    )
    debug = {name: Attr("0") for name in _ADF4159_DEBUG}
    debug[SCENE_ATTR] = scene
    return Device("", "adf4159", channels=[pll], debug=debug)


def _gpios(outputs: tuple[str, ...], inputs: tuple[str, ...]) -> Device:
    channels = [
        Channel(f"voltage{i}", True, attrs={"raw": Attr("0", boolean()), "label": read_only(name)})
        for i, name in enumerate(outputs)
    ]
    channels += [
        Channel(f"voltage{i}", False, attrs={"raw": read_only("1"), "label": read_only(name)})
        for i, name in enumerate(inputs)
    ]
    return Device("", "one-bit-adc-dac", channels=channels)


def _ad7291() -> Device:
    # raw codes of the CN0566's supplies behind their dividers (2.5 V reference, 12 bits) and 25 degC
    raws = (1475, 1229, 1352, 447, 158, 408, 410, 300)
    channels = [
        Channel(f"voltage{i}", False, attrs={"raw": read_only(str(raw)), "scale": read_only("0.610351562")})
        for i, raw in enumerate(raws)
    ]
    channels.append(
        Channel(
            "temp0", False, attrs={"raw": read_only("100"), "mean_raw": read_only("100"), "scale": read_only("250")}
        )
    )
    return Device("", "ad7291", channels=channels)


#: CN0566 element numbers behind each ADAR1000 channel 1-4 (pyadi-iio's map, by device label).
CN0566_ELEMENTS = {"BEAM0": (7, 8, 5, 6), "BEAM1": (3, 4, 1, 2)}


def phaser(scene: Attr) -> list[ContextTree]:
    """CN0566 Phaser on PORT (two ADAR1000 BEAM0/BEAM1, ADF4159, GPIOs, AD7291) and its Pluto on PORT+1."""
    devices = _number(
        [_adar1000("BEAM0"), _adar1000("BEAM1"), _adf4159(scene), _gpios(_CN0566_GPIO_OUT, _CN0566_GPIO_IN), _ad7291()]
    )
    cn0566 = ContextTree(
        "isac-ae IIO emulator: CN0566 Phaser",
        devices,
        attrs={"hw_model": "CN0566 Phaser (emulated)", "local,kernel": "emulated"},
    )
    pluto = _ad9361_context(
        "isac-ae IIO emulator: Phaser's Pluto 2R2T (AD9361)",
        "pluto",
        scene,
        "Analog Devices PlutoSDR Rev.C (emulated, 2R2T, Phaser)",
    )
    return [cn0566, pluto]


# --- Quad-MxFE --------------------------------------------------------------------------------

_MXFE_CHIPS = 4
_MXFE_CHANNELS_PER_CHIP = 4
_MXFE_RATE = 250_000_000
_MXFE_ADC_HZ = 4_000_000_000
_MXFE_DAC_HZ = 12_000_000_000


def _mxfe_paths(output: bool, scan_from: int | None) -> list[Channel]:
    """One AD9081's four fine DDC (input) or DUC (output) paths as I/Q channel pairs with their labels."""
    channels = []
    for k in range(_MXFE_CHANNELS_PER_CHIP):
        conv = f"FDUC{k}->CDUC{k}->DAC{k}" if output else f"FDDC{k}->CDDC{k}->ADC{k}"
        attrs = {
            "label": read_only(conv),
            "main_nco_frequency": Attr("0", integer(-6_000_000_000, 6_000_000_000)),
            "main_nco_phase": Attr("0", integer(-180_000, 180_000)),
            "channel_nco_frequency": Attr("0", integer(-_MXFE_RATE, _MXFE_RATE)),
            "channel_nco_phase": Attr("0", integer(-180_000, 180_000)),
            "sampling_frequency": read_only(str(_MXFE_RATE)),
            "en": Attr("1", boolean()),
        }
        if output:
            attrs.update(
                {
                    "dac_frequency": read_only(str(_MXFE_DAC_HZ)),
                    "channel_nco_gain_scale": Attr("0.500000", _dds_scale),
                    "channel_nco_test_tone_en": Attr("0", boolean()),
                    "channel_nco_test_tone_scale": Attr("0.000000", _dds_scale),
                    "main_nco_test_tone_en": Attr("0", boolean()),
                    "main_nco_test_tone_scale": Attr("0.000000", _dds_scale),
                }
            )
        else:
            attrs.update(
                {
                    "adc_frequency": read_only(str(_MXFE_ADC_HZ)),
                    "test_mode": Attr(
                        "off",
                        choice(
                            "off midscale_short pos_fullscale neg_fullscale "
                            "checkerboard pn23 pn9 one_zero_toggle user pn7 pn15 "
                            "pn31 ramp"
                        ),
                    ),
                    "nyquist_zone": Attr("odd", choice("odd even")),
                }
            )
        for part in ("i", "q"):
            index = None if scan_from is None else scan_from + 2 * k + (part == "q")
            channels.append(Channel(f"voltage{k}_{part}", output, scan_index=index, fmt=FORMAT_S16, attrs=attrs))
    return channels


def quadmxfe(scene: Attr) -> list[ContextTree]:
    """A Quad-MxFE (16R16T): four AD9081 control devices, one 32-word RX and TX DMA, DSA, clock chip, GPIOs.

    ``axi-ad9081-rx-3`` is the control device adi.QuadMxFE opens and the RX
    buffer (it carries all 16 RX channels); ``axi-ad9081-tx-3`` the TX buffer
    with its DDS.
    """
    devices = []
    for chip in range(_MXFE_CHIPS):
        channels = _mxfe_paths(False, 0 if chip == _MXFE_CHIPS - 1 else None) + _mxfe_paths(True, None)
        dev = Device(
            "",
            f"axi-ad9081-rx-{chip}",
            channels=channels,
            debug={"direct_reg_access": registers()},
            attrs={"powerdown": Attr("0", boolean()), "loopback_mode": Attr("0", integer(0, 2))},
        )
        if chip == _MXFE_CHIPS - 1:
            # the buffer device carries every RX channel; the other chips' paths keep their labels elsewhere
            extra = _MXFE_CHIPS * _MXFE_CHANNELS_PER_CHIP
            for k in range(_MXFE_CHANNELS_PER_CHIP, extra):
                for part in ("i", "q"):
                    dev.channels.append(
                        Channel(
                            f"voltage{k}_{part}",
                            False,
                            scan_index=2 * k + (part == "q"),
                            fmt=FORMAT_S16,
                            attrs={"sampling_frequency": read_only(str(_MXFE_RATE))},
                        )
                    )
            dev.stream, dev.bits = "rx", 16
            dev.buffer = _buffer_attrs()
            dev.attrs.update(
                {
                    "sync_start_enable": Attr("disarm", choice("arm disarm trigger_manual")),
                    "sync_start_enable_available": read_only("arm disarm trigger_manual"),
                    "jesd204_fsm_ctrl": Attr("1", boolean()),
                    "jesd204_fsm_resume": Attr("0"),
                    "jesd204_fsm_paused": read_only("0"),
                    "jesd204_fsm_error": read_only("0"),
                    "jesd204_fsm_state": read_only("opt_post_running_stage"),
                }
            )
            dev.debug[SCENE_ATTR] = scene
        devices.append(dev)
    n = _MXFE_CHIPS * _MXFE_CHANNELS_PER_CHIP
    tx_channels = [
        Channel(
            f"voltage{k}_{part}",
            True,
            scan_index=2 * k + (part == "q"),
            fmt=FORMAT_S16,
            attrs={"sampling_frequency": read_only(str(_MXFE_RATE))},
        )
        for k in range(n)
        for part in ("i", "q")
    ]
    tx_channels += dds_tones(n, lambda: _MXFE_RATE)
    devices.append(
        Device(
            "",
            "axi-ad9081-tx-3",
            stream="tx",
            bits=16,
            channels=tx_channels,
            buffer=_buffer_attrs(),
            attrs={
                "sync_start_enable": Attr("disarm", choice("arm disarm trigger_manual")),
                "sync_start_enable_available": read_only("arm disarm trigger_manual"),
            },
            debug={"direct_reg_access": registers(), "pl_ddr_fifo_enable": Attr("0", boolean())},
        )
    )

    def dsa(text: str) -> str:
        value = parse_number(text)
        if not -31.5 <= value <= 0:
            raise ValueError("DSA gain must be in [-31.5, 0] dB")
        return _db(round(value * 2) / 2)

    devices.append(
        Device("", "hmc425a", channels=[Channel("voltage0", True, attrs={"hardwaregain": Attr(_db(-6), dsa)})])
    )
    devices.append(
        Device(
            "",
            "hmc7043",
            channels=[
                Channel(f"altvoltage{k}", True, attrs={"frequency": read_only(str(f))})
                for k, f in enumerate((500_000_000, 500_000_000, 7_812_500, 7_812_500))
            ],
        )
    )
    devices.append(_gpios(("ADRF5020_CTRL", "CAL_TX", "CAL_RX"), ("ADF4371_MUXOUT",)))
    return [
        ContextTree(
            "isac-ae IIO emulator: Quad-MxFE (4x AD9081, 16R16T)",
            _number(devices),
            radio="quadmxfe",
            attrs={"hw_model": "Quad-MxFE (emulated)", "local,kernel": "emulated"},
        )
    ]


#: Profiles by name: each builds its contexts (served on PORT, PORT+1, ...) around a shared scene attribute.
PROFILES: dict[str, Callable[[Attr], list[ContextTree]]] = {
    "pluto2": pluto2,
    "phaser": phaser,
    "fmcomms5": fmcomms5,
    "quadmxfe": quadmxfe,
}


def scene_attr() -> Attr:
    """The scene debug attribute, one object shared by every context of an emulator."""
    return Attr(DEFAULT_SCENE, parse_scene)
