"""The host side of the UART link (protocol: hw/protocol.py): values, a device driver, batch runs.

The driver works over any pyserial-like byte transport: ``write(bytes)``, ``read(n)`` returning at most n bytes
once its ``timeout`` (seconds) has passed, and ``reset_input_buffer()``. In real use that is a
``serial.Serial``; the tests pass a transport that drives the pins of the simulated design.

Every failure (no device, no reply, a refused request, a bitstream built for another network) is a
:class:`LinkError`, a ContractError with a one-line message, which ``mam`` prints and exits 2 with.
"""

import struct
import time
from dataclasses import dataclass

import numpy as np

from ..golden import ContractError, check_inputs
from ..hw.protocol import (COUNTER_BYTES, DELIMITER, INFO_FORMAT, MAX_PAYLOAD, PROTOCOL_VERSION, REPLY,
                           WEIGHT_CHUNK, WEIGHT_HEADER, Command, FrameError, Status, decode_reply, encode_request,
                           value_bytes)
from .design_id import design_id
from ..golden.engines import AUTO_WINDOWS

__all__ = ["LinkError", "encode_values", "decode_values", "weight_frames", "entry_words", "Info", "Device",
           "BatchResult", "open_serial", "BOARD_HINT"]

BOARD_HINT = "pip install -e '.[board]'"
# Statuses that say the frame was damaged on the way, or came at a bad time; sending it again can succeed.
TRANSIENT = {Status.BAD_CHECKSUM, Status.TIMEOUT, Status.RX_ERROR, Status.BUSY}
# Bytes a reply frame can take on the line, and other requests' replies skipped while waiting for one, at most.
MAX_FRAME = 2 * MAX_PAYLOAD
MAX_STALE = 16
EXPLAIN = {
    Status.BAD_CHECKSUM: "the frame was corrupted on the line",
    Status.BAD_LENGTH: "wrong payload length for this design",
    Status.UNKNOWN_COMMAND: "the design does not implement it",
    Status.TIMEOUT: "the frame stopped short",
    Status.RX_ERROR: "the UART lost bytes (framing error or overrun)",
    Status.BAD_ADDRESS: "no such PE or entries in this design",
    Status.NO_INPUTS: "the last inputs were refused; write them again",
    Status.BUSY: "it came while another request waited",
}


class LinkError(ContractError):
    """A failed exchange with the device, in one line. ``transient``: worth sending the request again."""

    def __init__(self, message, transient=False):
        super().__init__(message)
        self.transient = transient


def encode_values(values, bits):
    """Signed integers as ceil(bits/8)-byte little-endian two's complement, one after the other."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ContractError(f"values must be {bits}-bit signed ({lo}..{hi})")
    nb = value_bytes(bits)
    u = v.astype(np.uint64)                             # two's complement, as 64 bits
    return np.stack([(u >> np.uint64(8 * k)) & np.uint64(0xFF) for k in range(nb)], axis=-1) \
        .astype(np.uint8).tobytes()


def decode_values(data, n, bits):
    """n signed integers (int64) from ceil(bits/8)-byte little-endian two's complement."""
    nb = value_bytes(bits)
    if len(data) != n * nb:
        raise ValueError(f"{n} values of {nb} bytes need {n * nb} bytes, got {len(data)}")
    raw = np.frombuffer(bytes(data), dtype=np.uint8).reshape(n, nb).astype(np.int64)
    u = (raw << (8 * np.arange(nb, dtype=np.int64))).sum(axis=1)
    return np.where(u >= 1 << (8 * nb - 1), u - (1 << (8 * nb)), u)


def weight_frames(words, bits):
    """LOAD_WEIGHTS payloads for one PE's entry words (unsigned, `bits` wide): WEIGHT_CHUNK words each, the last
    padded with zeros that its count leaves out."""
    nb = value_bytes(bits)
    out = []
    for start in range(0, len(words), WEIGHT_CHUNK):
        chunk = [int(w) for w in words[start:start + WEIGHT_CHUNK]]
        padded = chunk + [0] * (WEIGHT_CHUNK - len(chunk))
        out.append((start, len(chunk), b"".join(w.to_bytes(nb, "little") for w in padded)))
    return out


@dataclass(frozen=True)
class Info:
    """What the design on the device reports (INFO)."""

    version: int
    n_in: int
    n_out: int
    in_bits: int
    out_bits: int
    n_layers: int
    pes: int
    design_id: int
    weight_bits: int            # 0: the weights are in the bitstream; else the entry words' width (LOAD_WEIGHTS)

    @classmethod
    def unpack(cls, data):
        return cls(*struct.unpack(INFO_FORMAT, data))


@dataclass
class BatchResult:
    info: Info
    outputs: np.ndarray         # int64 [batch, out]
    cycles: np.ndarray          # int64 [batch]: the RUN reply's cycle count
    layer_cycles: np.ndarray    # int64 [batch, layers]: READ_CYCLES after each run


class Device:
    """A mamhw design behind a byte transport.

    ``name`` names the device in messages (the port). Each request carries a new tag, 1 to 255 in turn
    (hw/protocol.py); a reply with another tag answers an earlier request (or a broken frame) and is skipped. A request that gets no reply, a damaged one, or a
    BAD_CHECKSUM / TIMEOUT / RX_ERROR / BUSY status is sent again, with the same tag, up to ``retries`` times after
    ``resync`` seconds; a late reply to an earlier attempt answers it as well. Every command is idempotent (RUN on
    the same inputs gives the same outputs), so repeating one is safe.
    """

    def __init__(self, transport, *, name="device", retries=2, resync=0.05, sleep=time.sleep):
        self.transport = transport
        self.name = name
        self.retries = retries
        self.resync = resync
        self.sleep = sleep
        self.tag = 0                # the last request's tag
        self._info = None

    # Frames.
    def exchange(self, data):
        """Send raw bytes (a frame, or anything) and return the next reply, decoded: (code, tag, status, data)."""
        self.transport.reset_input_buffer()
        self.transport.write(data)
        return self.read_reply()

    def read_reply(self):
        """The next reply frame on the line, decoded; LinkError (transient) if none comes or it is damaged."""
        frame = self._read_frame()
        try:
            return decode_reply(frame)
        except FrameError as e:
            raise LinkError(f"{self.name}: damaged reply ({e}): not a mamhw host link, or a noisy line",
                            transient=True) from None

    def _read_frame(self):
        """The bytes between the next two 0x00 that hold any."""
        frame = bytearray()
        while True:
            byte = self.transport.read(1)
            if not byte:
                timeout = getattr(self.transport, "timeout", None)
                within = f" within {timeout:g} s" if isinstance(timeout, (int, float)) else ""
                if not frame:
                    raise LinkError(f"{self.name}: no reply{within} (is the board connected and the bitstream "
                                    "for this network loaded?)", transient=True)
                raise LinkError(f"{self.name}: reply cut short after {len(frame)} bytes{within}", transient=True)
            if byte[0] == DELIMITER:
                if frame:
                    return bytes(frame)
            else:
                frame += byte
                if len(frame) > MAX_FRAME:
                    raise LinkError(f"{self.name}: no frame in {len(frame)} bytes received", transient=True)

    # Requests.
    def request(self, command, payload=b""):
        """Send `command`; return the reply data after an OK status. LinkError otherwise, after retries."""
        command = Command(command)
        self.tag = self.tag % 255 + 1                   # 1..255: 0 is a frame's too short to hold a tag
        frame = encode_request(command, self.tag, payload)
        self.transport.reset_input_buffer()             # whatever waits there answers earlier requests
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.resync)
            self.transport.write(frame)
            try:
                return self._await(command)
            except LinkError as e:
                if not e.transient or attempt == self.retries:
                    raise
        raise AssertionError("unreachable")

    def _await(self, command):
        """The data of the OK reply to `command` (this request's tag); replies to earlier requests are skipped."""
        for _ in range(MAX_STALE + 1):
            code, tag, status, data = self.read_reply()
            if tag != self.tag:
                continue
            if code != command | REPLY:
                raise LinkError(f"{self.name}: expected a reply to {command.name} (code 0x{command | REPLY:02x}), "
                                f"got code 0x{code:02x}: not a mamhw host link, or a noisy line", transient=True)
            try:
                status = Status(status)
            except ValueError:
                raise LinkError(f"{self.name}: {command.name}: unknown status 0x{status:02x}") from None
            if status != Status.OK:
                raise LinkError(f"{self.name}: {command.name} refused: {status.name} ({EXPLAIN[status]})",
                                transient=status in TRANSIENT)
            return data
        raise LinkError(f"{self.name}: {MAX_STALE + 1} replies, none to {command.name}", transient=True)

    def _expect(self, command, data, n):
        if len(data) != n:
            raise LinkError(f"{self.name}: reply to {command.name} carries {len(data)} bytes, expected {n}")
        return data

    def info(self):
        data = self.request(Command.INFO)
        # The version first: another version's INFO may have another length.
        if data and data[0] != PROTOCOL_VERSION:
            raise LinkError(f"{self.name}: the device speaks host-link protocol version {data[0]}, this host "
                            f"version {PROTOCOL_VERSION}: rebuild the bitstream or update mamhw")
        info = Info.unpack(self._expect(Command.INFO, data, struct.calcsize(INFO_FORMAT)))
        self._info = info
        return info

    @property
    def cached_info(self):
        return self._info if self._info is not None else self.info()

    def write_inputs(self, x):
        """Load one input vector [n_in] (committed to the engine only if the frame arrived intact)."""
        info = self.cached_info
        x = np.asarray(x).reshape(-1)
        if x.size != info.n_in:
            raise ContractError(f"the device takes {info.n_in} inputs, got {x.size}")
        self.request(Command.WRITE_INPUTS, encode_values(x, info.in_bits))

    def load_weights(self, words_per_pe, bits):
        """Write every PE's entry words (`words_per_pe`: one list per PE, empty for a PE not built), WEIGHT_CHUNK
        words per frame; each frame is applied whole or not at all (and sent again when the line damaged it)."""
        for pe, words in enumerate(words_per_pe):
            for start, count, data in weight_frames(words, bits):
                self.request(Command.LOAD_WEIGHTS, struct.pack(WEIGHT_HEADER, pe, start, count) + data)

    def run(self):
        """Run the network on the loaded inputs; returns the engine's cycle count."""
        data = self._expect(Command.RUN, self.request(Command.RUN), COUNTER_BYTES)
        return int.from_bytes(data, "little")

    def read_outputs(self):
        info = self.cached_info
        data = self._expect(Command.READ_OUTPUTS, self.request(Command.READ_OUTPUTS),
                            info.n_out * value_bytes(info.out_bits))
        return decode_values(data, info.n_out, info.out_bits)

    def read_cycles(self):
        """(total, [cycles of each layer]) of the last run."""
        info = self.cached_info
        data = self._expect(Command.READ_CYCLES, self.request(Command.READ_CYCLES),
                            COUNTER_BYTES * (1 + info.n_layers))
        counts = [int.from_bytes(data[i:i + COUNTER_BYTES], "little") for i in range(0, len(data), COUNTER_BYTES)]
        return counts[0], counts[1:]

    def check_network(self, network, pes=None, where="network", engine="row", window=None):
        """INFO against `network` (a golden Network) on `engine` (with `window`; "auto": either engine, each W of
        AUTO_WINDOWS): the same shape, PE count and design id, or LinkError. Sets :attr:`engine` to the (engine,
        window) whose id the device reports, and :attr:`delta_bits` to its relative index width (0: absolute; a
        row engine whose entry words sit in SPRAM may have either)."""
        info = self.info()
        shape = (network.n_in, network.n_out, network.in_bits, network[-1].out_bits, len(network))
        have = (info.n_in, info.n_out, info.in_bits, info.out_bits, info.n_layers)
        if shape != have:
            raise LinkError(f"{self.name}: the device runs a {_describe(*have)} network, {where} is "
                            f"{_describe(*shape)}: load the bitstream built for it")
        if pes is not None and pes != info.pes:
            raise LinkError(f"{self.name}: the device has {info.pes} PEs, {pes} were asked for")
        candidates = [(engine, window)] if engine != "auto" else \
            [("row", None)] + [("window", w) for w in AUTO_WINDOWS if w % info.pes == 0]
        from ..hw.weight_ram import spram_delta_bits      # here, not at import: the driver loads without Amaranth
        relative = spram_delta_bits(network)
        candidates = [(e, w, 0) for e, w in candidates] + (
            [("row", None, relative)] if relative and ("row", None) in candidates else [])
        ids = {design_id(network, info.pes, e, w, d): (e, w, d) for e, w, d in candidates}
        found = ids.get(info.design_id)
        self.engine, self.delta_bits = (None, 0) if found is None else (found[:2], found[2])
        if self.engine is None:
            expected = next(iter(ids))
            raise LinkError(f"{self.name}: design id 0x{info.design_id:08x} on the device, 0x{expected:08x} for "
                            f"{where} on {info.pes} PEs of " + ("either engine" if engine == "auto" else
                                                                f"the {engine} engine") +
                            ": the bitstream was built for other weights or another engine")
        return info

    def run_batch(self, network, x, *, pes=None, progress=None, where="network", engine="row", window=None):
        """Check the device against `network` on `engine` (with `window`), load its weights if the design keeps them
        in RAM (SPRAM), then run every sample of x ([batch, in] or [in])."""
        x = check_inputs(x, network.n_in, network.in_bits)
        info = self.check_network(network, pes, where, engine, window)
        if info.weight_bits:
            words, bits = entry_words(network, info.pes, self.delta_bits)
            if bits != info.weight_bits:
                raise LinkError(f"{self.name}: the device takes {info.weight_bits}-bit weight words, {where} on "
                                f"{info.pes} PEs has {bits}-bit ones: rebuild the bitstream or update mamhw")
            self.load_weights(words, bits)
        batch = x.shape[0]
        outputs = np.zeros((batch, info.n_out), dtype=np.int64)
        cycles = np.zeros(batch, dtype=np.int64)
        layer_cycles = np.zeros((batch, info.n_layers), dtype=np.int64)
        for s in range(batch):
            self.write_inputs(x[s])
            cycles[s] = self.run()
            outputs[s] = self.read_outputs()
            total, layer_cycles[s] = self.read_cycles()
            if total != cycles[s]:
                raise LinkError(f"{self.name}: sample {s}: READ_CYCLES says {total} cycles, RUN said {cycles[s]}")
            if progress is not None:
                progress(s + 1, batch)
        return BatchResult(info=info, outputs=outputs, cycles=cycles, layer_cycles=layer_cycles)


def entry_words(network, pes, delta_bits=0):
    """Each PE's entry words as the engine of `network` on `pes` PEs holds them (with relative indices of
    `delta_bits` bits if > 0), and their width (hw/top.py weight_image)."""
    from ..hw.top import weight_image
    from .structure import build_structure
    return weight_image(build_structure(network, pes, weight_ram="memory", delta_bits=delta_bits).engine)


def _describe(n_in, n_out, in_bits, out_bits, n_layers):
    return f"{n_in}-in {n_out}-out ({in_bits}/{out_bits}-bit, {n_layers} layer{'s' if n_layers != 1 else ''})"


def open_serial(port, baud, timeout=1.0):
    """Open `port` (a device path or a pyserial URL such as loop://) at `baud`, 8N1; ContractError if it fails."""
    try:
        import serial
    except ImportError:
        raise ContractError(f"talking to a board needs pyserial: {BOARD_HINT}") from None
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=timeout, write_timeout=timeout)
    except (serial.SerialException, ValueError, OSError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ContractError(f"{port}: cannot open serial port ({reason})") from None
