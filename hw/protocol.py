"""The host-link protocol in plain Python: the one definition the gateware (hw/hostlink.py) and the host driver
(fpga/host.py) both import. No Amaranth here, so the host side runs without it.

Frames, the same in both directions:

    SYNC (0xA5) | CODE | LEN lo | LEN hi | PAYLOAD (LEN bytes) | CRC

CRC is CRC-8/SMBUS (polynomial 0x07, initial value 0, MSB first, no final xor; check value 0xF4 for b"123456789")
over CODE, LEN and PAYLOAD. A request's CODE is a command; its reply's CODE is the command | 0x80 (REPLY) and its
payload is a status byte followed by the command's reply data. The commands, statuses and the rules the link keeps
are described in hw/hostlink.py.
"""

import enum
import struct

__all__ = ["SYNC", "REPLY", "PROTOCOL_VERSION", "INFO_FORMAT", "INFO_BYTES", "COUNTER_BYTES", "MAX_LEN",
           "WEIGHT_CHUNK", "WEIGHT_HEADER", "WEIGHT_HEADER_BYTES", "Command", "Status", "crc8", "value_bytes"]

SYNC = 0xA5
REPLY = 0x80
PROTOCOL_VERSION = 2
# version, n_in, n_out, in_bits, out_bits, layers, PEs, design id, weight_bits (0: weights baked in)
INFO_FORMAT = "<BHHBBBBIB"
INFO_BYTES = struct.calcsize(INFO_FORMAT)
COUNTER_BYTES = 4
MAX_LEN = 0xFFFF
WEIGHT_CHUNK = 64               # entry words per LOAD_WEIGHTS frame
WEIGHT_HEADER = "<BHB"          # PE, first address, count
WEIGHT_HEADER_BYTES = struct.calcsize(WEIGHT_HEADER)
CRC8_POLY = 0x07


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


def crc8(data, crc=0):
    """CRC-8/SMBUS of `data` (bytes), continuing from `crc`."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ CRC8_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def value_bytes(bits):
    """Bytes per value of a `bits`-wide signed number on the link."""
    return (bits + 7) // 8
