"""The host-link protocol in plain Python: the one definition the gateware (hw/hostlink.py) and the host driver
(fpga/host.py) both import, with a reference codec for frames. No Amaranth here, so the host runs without it.

Frames. A request and its reply on the line (a UART, 8N1):

    request:  00 | COBS(CODE | TAG | PAYLOAD | CHECK) | 00
    reply:    00 | reverse COBS(CODE | 0x80, TAG, STATUS, DATA, CHECK) | 00

CHECK is CRC-32C of the bytes before it, least significant byte first (CHECK below; why CRC-32C: at the end).
TAG is any byte the host chooses; the reply carries it back, so the host tells the reply to this request from a
late reply to an earlier one (the driver counts 1 to 255: a reply to a frame too short to hold a TAG carries 0). The reply's CODE is the request's as received with 0x80 (REPLY) set.

Byte stuffing makes 0x00 a frame boundary and nothing else. COBS (consistent overhead byte stuffing) sends each run
of up to 254 non-zero bytes after a byte holding its length + 1; a run shorter than 254 stands for the run and the
0x00 after it, except the frame's last run. After any damage the next 0x00 ends the broken frame and the byte after
it starts a clean one: a payload byte is never taken for the start of a frame, whatever was lost or inserted. The
reply uses reverse COBS, the same runs with each length byte after its run instead of before it, so the device
sends each byte as it comes (no run is held back); the host decodes it from the end. The leading 0x00 ends whatever
a broken frame before left on the line; an empty frame (00 00) is ignored.

    command              request payload                 reply data (after the status byte)
    INFO         0x01    none                            INFO_FORMAT: version, n_in, n_out, in_bits, out_bits,
                                                         layers, PEs, 32-bit design id, weight_bits
    WRITE_INPUTS 0x02    n_in values                     none
    RUN          0x03    none                            cycles (u32), sent when the run is done
    READ_OUTPUTS 0x04    none                            n_out values
    READ_CYCLES  0x05    none                            cycles, then each layer's cycles (u32 each)
    LOAD_WEIGHTS 0x06    PE (u8), address (u16), count    none
                         (u8, 1..WEIGHT_CHUNK), then
                         WEIGHT_CHUNK entry words

Values are ceil(bits / 8) bytes each, little endian, two's complement (inputs in in_bits, outputs in out_bits);
multi-byte integers in INFO and the counters are little endian too. Input bytes above in_bits are ignored.
LOAD_WEIGHTS exists only in a design whose entry words sit in RAMs without initial contents (the UP5K's SPRAM; INFO's
weight_bits is their width, else 0 and LOAD_WEIGHTS is an UNKNOWN_COMMAND). It writes the first `count` words of the
frame to entries address .. address + count - 1 of PE `PE`; the frame always carries WEIGHT_CHUNK words of
ceil(weight_bits / 8) bytes (the unused ones are ignored). The host loads every PE's words before the first RUN.

Statuses (the first byte of a reply's data), each failure checked in this order:

    RX_ERROR         5  the UART lost a byte of the frame (framing error or overrun)
    BAD_CHECKSUM     1  the frame is damaged: its check does not match, its stuffing is broken, or it is too short
                        to hold CODE, TAG and CHECK
    UNKNOWN_COMMAND  3  no such command (or a reserved one)
    BAD_LENGTH       2  the payload is not the command's length
    BAD_ADDRESS      6  LOAD_WEIGHTS names a PE or entries the design does not have
    NO_INPUTS        7  RUN after a refused WRITE_INPUTS (the staged inputs are not whole); nothing was run
    BUSY             8  WRITE_INPUTS or LOAD_WEIGHTS that arrived while another request waited (below): its payload
                        could not be staged
    TIMEOUT          4  the frame stopped for longer than the inter-byte timeout (the link then ignores the line up
                        to the next 0x00)
    OK               0  the command was carried out

A refused request applies nothing: WRITE_INPUTS and LOAD_WEIGHTS land in staging memories that are copied into the
engine only after the whole frame checked out. RUN copies the staged inputs into the engine again before it starts
(a network with an even number of layers writes its outputs into its inputs' buffer, and a RUN sent again must run
on the same inputs); a refused WRITE_INPUTS leaves its bytes in the staging memory, so RUN is refused (NO_INPUTS)
until one goes through. Every command is idempotent, so a request may always be sent again.

Every non-empty frame gets one reply, in order, with one exception. The link receives all the time: a request that
arrives while another is carried out (the engine running, a reply going out) waits, and is carried out and answered
after it. One request waits at most: a frame that ends while one waits is dropped unanswered, and a WRITE_INPUTS or
LOAD_WEIGHTS that began while one waited (or while staged values were being copied into the engine) is answered
BUSY. The host's rule covers both: a request without a reply within its timeout, or answered BAD_CHECKSUM, TIMEOUT,
RX_ERROR or BUSY, is sent again with the same TAG, and any reply with its TAG and CODE answers it (fpga/host.py).

Why CRC-32C (`python bench/link_integrity.py`, exact counts over every pattern of a frame of that many covered bytes
and its check, on the line's bit order): of the candidates in amaranth's catalog it alone lets no 2- or 3-bit error
through in the largest frame the link takes (65,537 covered bytes; CRC-32/ISO-HDLC lets 5.8 million 3-bit patterns
through there, CRC32_MEF and CRC32_AUTOSAR pairs of flips 114,695 and 65,534 bits apart, every CRC-16 pairs 32,767 or
fewer bits apart). On the 787-byte frame of a 784-input network no 2- or 3-bit error passes and 6,650 of 6.6e13 4-bit
patterns do; CRC-8/SMBUS, the check before it, let 153,321 of 19.9 million 2-bit errors through there (any two flips
113 line bits apart among them) and 1 in 300 frames with 1 to 8 bytes replaced, every CRC-16 10 to 39 in a million.
"""

import enum
import functools
import struct
from dataclasses import dataclass

__all__ = ["DELIMITER", "REPLY", "PROTOCOL_VERSION", "INFO_FORMAT", "INFO_BYTES", "COUNTER_BYTES", "MAX_PAYLOAD",
           "WEIGHT_CHUNK", "WEIGHT_HEADER", "WEIGHT_HEADER_BYTES", "Command", "Status", "CrcAlgorithm", "CHECK",
           "CHECK_BYTES", "FrameError", "cobs_encode", "cobs_decode", "reverse_cobs_encode", "reverse_cobs_decode",
           "encode_request", "decode_request", "encode_reply", "decode_reply", "value_bytes"]

DELIMITER = 0x00
REPLY = 0x80
PROTOCOL_VERSION = 4
# version, n_in, n_out, in_bits, out_bits, layers, PEs, design id, weight_bits (0: weights baked in)
INFO_FORMAT = "<BHHBBBBIB"
INFO_BYTES = struct.calcsize(INFO_FORMAT)
COUNTER_BYTES = 4
MAX_PAYLOAD = 0xFFFF            # the longest request payload or reply data a design may have
WEIGHT_CHUNK = 64               # entry words per LOAD_WEIGHTS frame
WEIGHT_HEADER = "<BHB"          # PE, first address, count
WEIGHT_HEADER_BYTES = struct.calcsize(WEIGHT_HEADER)
MAX_RUN = 254                   # non-zero bytes a stuffing length byte covers


class Command(enum.IntEnum):
    INFO = 0x01
    WRITE_INPUTS = 0x02
    RUN = 0x03
    READ_OUTPUTS = 0x04
    READ_CYCLES = 0x05
    LOAD_WEIGHTS = 0x06


class Status(enum.IntEnum):
    OK = 0
    BAD_CHECKSUM = 1
    BAD_LENGTH = 2
    UNKNOWN_COMMAND = 3
    TIMEOUT = 4
    RX_ERROR = 5
    BAD_ADDRESS = 6
    NO_INPUTS = 7
    BUSY = 8


def _reflect(value, bits):
    return int(f"{value:0{bits}b}"[::-1], 2)


@dataclass(frozen=True)
class CrcAlgorithm:
    """A CRC in the parameters of amaranth.lib.crc.Algorithm (the reveng catalogue's), computed a byte at a time
    from a table, in plain Python. The check is sent after the data: little endian when the algorithm is reflected
    (so the line, LSB first, carries the codeword in the order the CRC divides it), big endian otherwise."""

    name: str
    width: int
    polynomial: int
    initial: int
    reflect_input: bool
    reflect_output: bool
    xor_output: int

    @functools.cached_property
    def table(self):
        """The register after one byte (MSB first, unreflected) from 0: table[byte]."""
        top, mask, out = 1 << (self.width - 1), (1 << self.width) - 1, []
        for byte in range(256):
            reg = byte << (self.width - 8)
            for _ in range(8):
                reg = ((reg << 1) ^ self.polynomial) & mask if reg & top else (reg << 1) & mask
            out.append(reg)
        return out

    def register(self, data, reg=None):
        """The raw register after `data` (bytes), from `reg` (default: the initial value)."""
        table, shift, mask = self.table, self.width - 8, (1 << self.width) - 1
        reg = self.initial if reg is None else reg
        rev = _REVERSED_BYTES if self.reflect_input else range(256)
        for byte in data:
            reg = ((reg << 8) & mask) ^ table[((reg >> shift) ^ rev[byte]) & 0xFF]
        return reg

    def compute(self, data):
        """The CRC of `data` (bytes), as amaranth.lib.crc.Parameters.compute gives it."""
        reg = self.register(data)
        return (_reflect(reg, self.width) if self.reflect_output else reg) ^ self.xor_output

    def check_bytes(self, data):
        """The check of `data` as it is sent."""
        return self.compute(data).to_bytes(self.width // 8, "little" if self.reflect_output else "big")


_REVERSED_BYTES = [_reflect(b, 8) for b in range(256)]

# The frame check: CRC-32C, chosen by measurement (above).
CHECK = CrcAlgorithm("CRC32_ISCSI", width=32, polynomial=0x1EDC6F41, initial=0xFFFFFFFF, reflect_input=True,
                     reflect_output=True, xor_output=0xFFFFFFFF)
CHECK_BYTES = CHECK.width // 8


class FrameError(ValueError):
    """Bytes between two 0x00 that are no frame: broken stuffing, too short, or a check that does not match."""


def _runs(data):
    """`data` cut at its zeros (and after every MAX_RUN non-zero bytes): (run, followed by an implicit zero)."""
    out, run = [], bytearray()
    for byte in bytes(data):
        if byte == 0:
            out.append((bytes(run), True))
            run = bytearray()
        else:
            run.append(byte)
            if len(run) == MAX_RUN:
                out.append((bytes(run), False))
                run = bytearray()
    out.append((bytes(run), False))
    return out


def cobs_encode(data):
    """COBS: each run after a byte holding its length + 1. No 0x00 in the result."""
    return b"".join(bytes([len(run) + 1]) + run for run, _ in _runs(data))


def reverse_cobs_encode(data):
    """Reverse COBS: each run before the byte holding its length + 1 (an encoder needs no look-ahead)."""
    return b"".join(run + bytes([len(run) + 1]) for run, _ in _runs(data))


def _join(runs):
    """The data of (run, length byte) pairs in order: a zero after every run but the last whose length byte is
    below 0xFF."""
    out = bytearray()
    for i, (run, code) in enumerate(runs):
        out += run
        if code != MAX_RUN + 1 and i != len(runs) - 1:
            out.append(0)
    return bytes(out)


def cobs_decode(stuffed):
    """The data of a COBS frame (without its delimiters); FrameError if the stuffing is broken."""
    stuffed, runs, i = bytes(stuffed), [], 0
    if not stuffed:
        raise FrameError("empty frame")
    while i < len(stuffed):
        code = stuffed[i]
        run = stuffed[i + 1:i + code]
        if code == 0 or i + code > len(stuffed) or 0 in run:
            raise FrameError("broken stuffing")
        runs.append((run, code))
        i += code
    return _join(runs)


def reverse_cobs_decode(stuffed):
    """The data of a reverse-COBS frame (without its delimiters), read from its end; FrameError if broken."""
    stuffed, runs, i = bytes(stuffed), [], len(bytes(stuffed))
    if not stuffed:
        raise FrameError("empty frame")
    while i > 0:
        code = stuffed[i - 1]
        run = stuffed[i - code:i - 1]
        if code == 0 or code > i or 0 in run:
            raise FrameError("broken stuffing")
        runs.append((run, code))
        i -= code
    return _join(runs[::-1])


def _checked(content):
    return bytes(content) + CHECK.check_bytes(content)


def _unchecked(data, fields):
    if len(data) < fields + CHECK_BYTES:
        raise FrameError(f"{len(data)} bytes: too short for a frame")
    content, check = data[:-CHECK_BYTES], data[-CHECK_BYTES:]
    if CHECK.check_bytes(content) != check:
        raise FrameError("check does not match")
    return content


def encode_request(code, tag, payload=b""):
    """A request as the host sends it, delimiters included."""
    if not (0 <= code <= 0xFF and 0 <= tag <= 0xFF):
        raise ValueError(f"code and tag must be bytes, got {code} and {tag}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return bytes([DELIMITER]) + cobs_encode(_checked(bytes([code, tag]) + bytes(payload))) + bytes([DELIMITER])


def decode_request(stuffed):
    """(code, tag, payload) of a request's bytes between its delimiters; FrameError if it is no frame."""
    content = _unchecked(cobs_decode(stuffed), 2)
    return content[0], content[1], content[2:]


def encode_reply(code, tag, status, data=b""):
    """A reply as the device sends it, delimiters included (`code`: the request's; REPLY is set here)."""
    content = bytes([code | REPLY, tag, status]) + bytes(data)
    return bytes([DELIMITER]) + reverse_cobs_encode(_checked(content)) + bytes([DELIMITER])


def decode_reply(stuffed):
    """(code, tag, status, data) of a reply's bytes between its delimiters; FrameError if it is no frame."""
    content = _unchecked(reverse_cobs_decode(stuffed), 3)
    return content[0], content[1], content[2], content[3:]


def value_bytes(bits):
    """Bytes per value of a `bits`-wide signed number on the link."""
    return (bits + 7) // 8
