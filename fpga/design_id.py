"""The design id: a 32-bit fingerprint of a network and its PE count.

The hardware builder bakes it into the host link (INFO reports it) and the host computes it again from the
network file it is asked to run, so a board loaded with another network's bitstream is caught before any
sample runs. CRC-32 over a canonical serialization: every field of every layer (kind, widths, requantization,
ReLU, shape, weights and biases as little-endian int64) and P, which decides the row assignment.
"""

import struct
import zlib

import numpy as np

__all__ = ["design_id"]


def design_id(network, pes):
    """32-bit id of `network` (a golden Network or any sequence of golden Layers) on `pes` PEs."""
    crc = zlib.crc32(struct.pack("<4sI", b"mamh", int(pes)))
    for layer in network:
        head = struct.pack("<3sIIIqqBII", layer.kind.encode(), layer.in_bits, layer.w_bits, layer.out_bits,
                           int(layer.mult), int(layer.shift), bool(layer.relu), layer.n_out, layer.n_in)
        crc = zlib.crc32(head, crc)
        crc = zlib.crc32(np.ascontiguousarray(layer.weight, dtype="<i8").tobytes(), crc)
        crc = zlib.crc32(np.ascontiguousarray(layer.bias, dtype="<i8").tobytes(), crc)
    return crc & 0xFFFFFFFF
