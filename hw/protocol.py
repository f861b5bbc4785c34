"""The host-link protocol in plain Python: the one definition the gateware (hw/hostlink.py) and the host driver
(fpga/host.py) both import. No Amaranth here, so the host side runs without it.

Frames, the same in both directions:

    SYNC (0xA5) | CODE | LEN lo | LEN hi | PAYLOAD (LEN bytes) | CHECK (4 bytes)

CHECK is CRC-32C (CHECK below: amaranth.lib.crc.catalog.CRC32_ISCSI, polynomial 0x1EDC6F41, reflected, initial
value and final xor 0xFFFFFFFF; check value 0xE3069283 for b"123456789") over CODE, LEN and PAYLOAD, least
significant byte first. A request's CODE is a command; its reply's CODE is the command | 0x80 (REPLY) and its
payload is a status byte followed by the command's reply data. The commands, statuses and the rules the link keeps
are described in hw/hostlink.py.

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

__all__ = ["SYNC", "REPLY", "PROTOCOL_VERSION", "INFO_FORMAT", "INFO_BYTES", "COUNTER_BYTES", "MAX_LEN",
           "WEIGHT_CHUNK", "WEIGHT_HEADER", "WEIGHT_HEADER_BYTES", "Command", "Status", "CrcAlgorithm", "CHECK",
           "CHECK_BYTES", "value_bytes"]

SYNC = 0xA5
REPLY = 0x80
PROTOCOL_VERSION = 3
# version, n_in, n_out, in_bits, out_bits, layers, PEs, design id, weight_bits (0: weights baked in)
INFO_FORMAT = "<BHHBBBBIB"
INFO_BYTES = struct.calcsize(INFO_FORMAT)
COUNTER_BYTES = 4
MAX_LEN = 0xFFFF
WEIGHT_CHUNK = 64               # entry words per LOAD_WEIGHTS frame
WEIGHT_HEADER = "<BHB"          # PE, first address, count
WEIGHT_HEADER_BYTES = struct.calcsize(WEIGHT_HEADER)


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


def value_bytes(bits):
    """Bytes per value of a `bits`-wide signed number on the link."""
    return (bits + 7) // 8
