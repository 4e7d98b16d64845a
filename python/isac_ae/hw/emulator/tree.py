"""The device tree an emulated context serves: devices, channels, attributes and their XML.

An :class:`Attr` holds one attribute's text and the rule that checks and rounds
a write, as the kernel driver behind a real board does. The same :class:`Attr`
object may sit at several places of a tree (the AD9361 sample rate is one value
seen on every channel of three devices); writing any of them changes all.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

#: libiio version the emulator claims (the clients are libiio 0.24); the git tag
#: must be 7 characters, clients parse ``major.minor.<tag>``.
VERSION = (0, 24, "emulatr")

#: RX data format of a 12-bit converter (AD9361 ADC), sign-extended in 16-bit words.
FORMAT_S12 = "le:S12/16>>0"
#: Data format of a 16-bit word (AD9361 DAC words, AD9081 ADC and DAC).
FORMAT_S16 = "le:S16/16>>0"


class AttrError(Exception):
    """A refused attribute access; ``code`` is the positive errno the client receives negated."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message or errno.errorcode.get(code, str(code)))
        self.code = code


Writer = Callable[[str], str]


class Attr:
    """One attribute: stored text, an optional write rule and an optional computed read.

    ``write(text) -> stored text`` checks and rounds a written value (raise
    :class:`AttrError`, or ValueError for -EINVAL); ``None`` stores the text
    as written. ``read() -> text`` computes the value from other attributes.
    """

    __slots__ = ("_read", "_write", "value")

    def __init__(self, value: str = "", write: Writer | None = None, read: Callable[[], str] | None = None):
        self.value = value
        self._write = write
        self._read = read

    def get(self) -> str:
        return self._read() if self._read is not None else self.value

    def set(self, text: str) -> None:
        if self._write is None:
            self.value = text
            return
        try:
            self.value = self._write(text)
        except ValueError as exc:
            raise AttrError(errno.EINVAL, str(exc)) from exc


def read_only(value: str = "", read: Callable[[], str] | None = None) -> Attr:
    """An attribute a write is refused on (-EACCES), like a read-only sysfs file."""

    def refuse(_text: str) -> str:
        raise AttrError(errno.EACCES, "read-only attribute")

    return Attr(value, refuse, read)


def registers() -> Attr:
    """A ``direct_reg_access`` debug attribute: writing "ADDR" selects a register, "ADDR VALUE"
    writes it, reading gives the selected register as hex (0 where nothing was written)."""
    regs: dict[int, int] = {}
    selected = 0

    def write(text: str) -> str:
        nonlocal selected
        fields = text.split()
        if not 1 <= len(fields) <= 2:
            raise ValueError("direct_reg_access takes ADDR or ADDR VALUE")
        selected = int(fields[0], 0)
        if len(fields) == 2:
            regs[selected] = int(fields[1], 0) & 0xFFFFFFFF
        return ""

    return Attr("", write, lambda: f"0x{regs.get(selected, 0):X}")


_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def parse_number(text: str) -> float:
    """The leading number of an attribute text ("71.000000 dB" -> 71.0); ValueError if none."""
    match = _NUMBER.match(text)
    if match is None:
        raise ValueError(f"not a number: {text!r}")
    return float(match.group(1))


def integer(lo: int, hi: int) -> Writer:
    """Write rule: an integer in [lo, hi], stored as written without a fraction."""

    def write(text: str) -> str:
        value = parse_number(text)
        if value != int(value) or not lo <= value <= hi:
            raise ValueError(f"{text!r} is not an integer in [{lo}, {hi}]")
        return str(int(value))

    return write


def choice(options: str) -> Writer:
    """Write rule: one of the space-separated options."""
    allowed = options.split()

    def write(text: str) -> str:
        value = text.strip()
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {allowed}")
        return value

    return write


def boolean() -> Writer:
    """Write rule: 0 or 1 (any integer, as sysfs booleans take it, stored as 0/1)."""

    def write(text: str) -> str:
        return "1" if int(parse_number(text)) else "0"

    return write


@dataclass
class Channel:
    """An IIO channel. ``scan_index`` is set for a buffer (scan) element, with its ``fmt``."""

    id: str
    output: bool
    name: str | None = None
    scan_index: int | None = None
    fmt: str = FORMAT_S12
    attrs: dict[str, Attr] = field(default_factory=dict)
    #: attributes the driver shares by channel type (one sysfs file for all voltage inputs, say)
    shared: frozenset[str] = frozenset()
    #: for a DDS tone: the radio's TX channel it feeds and the part (0 = I, 1 = Q)
    tone: tuple[int, int] | None = None

    def filename(self, attr: str) -> str:
        """The attribute's sysfs name ("in_voltage0_hardwaregain", "in_voltage_rf_bandwidth",
        "out_altvoltage0_RX_LO_frequency"): gr-iio addresses attributes by it."""
        prefix = "out" if self.output else "in"
        if attr in self.shared:
            return f"{prefix}_{self.id.rstrip('0123456789')}_{attr}"
        name = f"_{self.name}" if self.name else ""
        return f"{prefix}_{self.id}{name}_{attr}"


@dataclass
class Device:
    """An IIO device; ``stream`` is "rx" or "tx" for a device with a DMA buffer."""

    id: str
    name: str
    label: str | None = None
    channels: list[Channel] = field(default_factory=list)
    attrs: dict[str, Attr] = field(default_factory=dict)
    debug: dict[str, Attr] = field(default_factory=dict)
    buffer: dict[str, Attr] = field(default_factory=dict)
    stream: str | None = None
    #: converter resolution behind the 16-bit words of a stream (12 for the AD9361, 16 for the AD9081)
    bits: int = 16
    #: kernel buffers of the DMA ring (libiio's default 4; ``SET dev BUFFERS_COUNT n`` changes it)
    kernel_buffers: int = 4

    def __post_init__(self):
        if self.label is not None:
            self.attrs.setdefault("label", read_only(self.label))

    @property
    def key(self) -> str:
        """How the emulator's state names this device: its label if it has one, else its name."""
        return self.label or self.name

    def channel(self, channel_id: str, output: bool) -> Channel | None:
        for chn in self.channels:
            if chn.id == channel_id and chn.output == output:
                return chn
        return None

    def ordered_channels(self) -> list[Channel]:
        """Channels in libiio's order: scan elements by index first, then the others as listed.

        A channel's position here is its bit in a buffer mask.
        """
        scan = sorted((c for c in self.channels if c.scan_index is not None), key=lambda c: c.scan_index)
        return scan + [c for c in self.channels if c.scan_index is None]

    @property
    def stream_channels(self) -> int:
        """Complex channels of a stream device (its I/Q scan-element pairs)."""
        return sum(c.scan_index is not None for c in self.channels) // 2

    @property
    def mask_words(self) -> int:
        """32-bit words of a buffer mask, as libiio counts them (over all channels)."""
        return (len(self.channels) + 31) // 32


@dataclass
class ContextTree:
    """One IIO context: what a client sees at one URI."""

    description: str
    devices: list[Device]
    attrs: dict[str, str] = field(default_factory=dict)
    #: name of the sample clock shared by this context's stream devices (one DMA domain)
    radio: str = ""

    def find(self, ref: str) -> Device | None:
        """A device by id, name or label, in that order (iiod accepts each)."""
        for getter in (lambda d: d.id, lambda d: d.name, lambda d: d.label):
            for dev in self.devices:
                if getter(dev) == ref:
                    return dev
        return None

    def xml(self) -> str:
        """The context's XML as iiod's PRINT sends it (structure only, no values)."""
        major, minor, git = VERSION
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            _DTD,
            (
                f'<context name="network" version-major="{major}" version-minor="{minor}" '
                f'version-git="{git}" description={quoteattr(self.description)} >'
            ),
        ]
        for name, value in self.attrs.items():
            out.append(f"<context-attribute name={quoteattr(name)} value={quoteattr(value)} />")
        for dev in self.devices:
            label = f" label={quoteattr(dev.label)}" if dev.label else ""
            out.append(f"<device id={quoteattr(dev.id)} name={quoteattr(dev.name)}{label} >")
            for chn in dev.ordered_channels():
                kind = "output" if chn.output else "input"
                name = f" name={quoteattr(chn.name)}" if chn.name else ""
                out.append(f'<channel id={quoteattr(chn.id)}{name} type="{kind}" >')
                if chn.scan_index is not None:
                    out.append(f'<scan-element index="{chn.scan_index}" format="{chn.fmt}" />')
                out.extend(
                    f"<attribute name={quoteattr(a)} filename={quoteattr(chn.filename(a))} />" for a in chn.attrs
                )
                out.append("</channel>")
            out.extend(f"<attribute name={quoteattr(a)} />" for a in dev.attrs)
            out.extend(f"<debug-attribute name={quoteattr(a)} />" for a in dev.debug)
            out.extend(f"<buffer-attribute name={quoteattr(a)} />" for a in dev.buffer)
            out.append("</device>")
        out.append("</context>")
        return "".join(out)


# The document type of libiio's context XML, with the version attributes declared.
_DTD = (
    "<!DOCTYPE context ["
    "<!ELEMENT context (device | context-attribute)*>"
    "<!ELEMENT context-attribute EMPTY>"
    "<!ELEMENT device (channel | attribute | debug-attribute | buffer-attribute)*>"
    "<!ELEMENT channel (scan-element?, attribute*)>"
    "<!ELEMENT attribute EMPTY>"
    "<!ELEMENT scan-element EMPTY>"
    "<!ELEMENT debug-attribute EMPTY>"
    "<!ELEMENT buffer-attribute EMPTY>"
    "<!ATTLIST context name CDATA #REQUIRED version-major CDATA #IMPLIED version-minor CDATA #IMPLIED "
    "version-git CDATA #IMPLIED description CDATA #IMPLIED>"
    "<!ATTLIST context-attribute name CDATA #REQUIRED value CDATA #REQUIRED>"
    "<!ATTLIST device id CDATA #REQUIRED name CDATA #IMPLIED label CDATA #IMPLIED>"
    "<!ATTLIST channel id CDATA #REQUIRED type (input|output) #REQUIRED name CDATA #IMPLIED>"
    "<!ATTLIST scan-element index CDATA #REQUIRED format CDATA #REQUIRED scale CDATA #IMPLIED>"
    "<!ATTLIST attribute name CDATA #REQUIRED filename CDATA #IMPLIED value CDATA #IMPLIED>"
    "<!ATTLIST debug-attribute name CDATA #REQUIRED value CDATA #IMPLIED>"
    "<!ATTLIST buffer-attribute name CDATA #REQUIRED value CDATA #IMPLIED>"
    "]>"
)
