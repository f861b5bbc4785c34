"""The design id: a 32-bit fingerprint of a network, its PE count and its engine.

The hardware builder bakes it into the host link (INFO reports it) and the host computes it again from the
network file it is asked to run, so a board loaded with another network's bitstream is caught before any
sample runs. CRC-32 over a canonical serialization: P (which decides the row assignment), the layer count (then,
for the window engine only, its name and W, and for entries with relative indices only, their width, so a row
engine's id with absolute indices is what it always was), and
every field of every layer (kind, widths, requantization, ReLU, splits, relu_in, shape), then its CSR weights
(``indptr``, ``indices``, ``values``: a layer's canonical form, whatever file form it came from) and its biases,
all as little-endian int64. Read from the CSR arrays a block at a time: no dense matrix, whatever the size.
"""

import struct
import zlib

import numpy as np

__all__ = ["design_id"]

# Elements serialized at a time (8 MiB as int64).
BLOCK = 1 << 20


def design_id(network, pes, engine="row", window=None, delta_bits=0):
    """32-bit id of `network` (a golden Network or any sequence of golden Layers) on `pes` PEs of `engine` ("row",
    or "window" with windows of `window` activations: the engine and W go into the id too; `delta_bits`: the row
    engine's relative index width, 0 for absolute indices)."""
    layers = list(network)
    crc = zlib.crc32(struct.pack("<4sII", b"mam2", int(pes), len(layers)))
    if engine != "row":
        crc = zlib.crc32(struct.pack("<6sI", engine.encode(), int(window)), crc)
    if delta_bits:
        crc = zlib.crc32(struct.pack("<5sI", b"delta", int(delta_bits)), crc)
    for layer in layers:
        head = struct.pack("<3sIIIqqBqBII", layer.kind.encode(), layer.in_bits, layer.w_bits, layer.out_bits,
                           int(layer.mult), int(layer.shift), bool(layer.relu), int(layer.splits),
                           bool(layer.relu_in), layer.n_out, layer.n_in)
        crc = zlib.crc32(head, crc)
        for arr in (layer.indptr, layer.indices, layer.values, layer.bias):
            crc = _crc_int64(arr, crc)
    return crc & 0xFFFFFFFF


def _crc_int64(arr, crc):
    """`crc` continued over `arr` as little-endian int64, its length first (so no two fields run together)."""
    arr = np.asarray(arr)
    crc = zlib.crc32(struct.pack("<q", arr.size), crc)
    for start in range(0, arr.size, BLOCK):
        crc = zlib.crc32(np.ascontiguousarray(arr[start:start + BLOCK], dtype="<i8").tobytes(), crc)
    return crc
