"""The host link's receiver: frames in from the UART, checked, their payload staged, one request out per frame.

It decodes the line (hw/stuffing.py), checks each frame (hw/protocol.py lists the statuses in their order), writes
WRITE_INPUTS's values and LOAD_WEIGHTS's words into the staging memories (the executor copies them into the engine
only after the whole frame checked out) and hands the executor one Request with the status the frame earned. It
receives all the time: a request waits in ``port.request`` while the executor carries out another; a frame that
ends while one waits is dropped, and a frame whose payload would have to be staged is staged only if it began with
none waiting and no copy out of the staging memories under way (else it earns BUSY).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import enum, stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .link_types import Command, RequestPort, SerialCheck, Status
from .protocol import CHECK_BYTES, WEIGHT_CHUNK, WEIGHT_HEADER_BYTES, value_bytes
from .stuffing import CobsDecoder, Event

__all__ = ["Receiver"]


class Receiver(wiring.Component):
    """``rx``: bytes from the UART; ``rx_error``: its error pulse (framing error or overrun), which marks the frame
    being received as bad. ``port``: the requests. ``inputs`` and ``weights``: write ports of the staging memories.
    `timeout`: cycles without a byte after which a frame in progress is abandoned. `weight_words`: each PE's entry
    count when the weights are loaded over the link (None otherwise), `weight_bits` their width."""

    class Field(enum.Enum):
        CODE = 0
        TAG = 1
        PAYLOAD = 2

    def __init__(self, *, n_in, in_bits, timeout, weight_words=None, weight_bits=0):
        self.n_in, self.in_bytes, self.timeout = n_in, value_bytes(in_bits), timeout
        self.write_len = n_in * self.in_bytes
        self.weight_words, self.weight_bytes = weight_words, value_bytes(weight_bits)
        self.load_len = WEIGHT_HEADER_BYTES + WEIGHT_CHUNK * self.weight_bytes if weight_bits else 0
        members = {
            "rx": In(stream.Signature(8)),
            "rx_error": In(1),
            "port": Out(RequestPort()),
            "inputs": In(WritePort.Signature(addr_width=ceil_log2(n_in), shape=unsigned(in_bits))),
        }
        if weight_bits:
            members["weights"] = In(WritePort.Signature(addr_width=ceil_log2(WEIGHT_CHUNK),
                                                        shape=unsigned(weight_bits)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        F = self.Field
        loads = self.weight_words is not None
        payload_len = {Command.INFO: 0, Command.WRITE_INPUTS: self.write_len, Command.RUN: 0,
                       Command.READ_OUTPUTS: 0, Command.READ_CYCLES: 0}
        if loads:
            payload_len[Command.LOAD_WEIGHTS] = self.load_len
        staged = [Command.WRITE_INPUTS] + ([Command.LOAD_WEIGHTS] if loads else [])
        longest = 2 + max(payload_len.values()) + CHECK_BYTES     # CODE, TAG, payload, CHECK
        req = self.port.request

        m.submodules.decoder = dec = CobsDecoder(self.timeout)
        # Each event is registered once more, the command its byte would be decoded beside it: the byte's compares
        # in front of the CODE byte's decisions were the ECP5 top level's longest path (6.7 ns). The decoder's
        # kind and byte hold until its next event, which needs another line byte.
        kind, byte = dec.o.payload.kind, dec.o.payload.data
        got, ends, boundary = Signal(), Signal(), Signal()
        m.d.sync += [got.eq(dec.o.valid & (kind == Event.DATA)), ends.eq(dec.o.valid & (kind != Event.DATA)),
                     boundary.eq(dec.boundary)]
        byte_is = {c: Signal(name=f"byte_is_{c.name.lower()}") for c in Command}
        m.d.sync += [flag.eq(byte == c) for c, flag in byte_is.items()]

        # The frame check: every content byte, the check's own included, goes through it; a frame that checks out
        # leaves the register at the algorithm's residue (match_detected).
        m.submodules.check = check = SerialCheck()
        field = Signal(F)
        m.d.comb += [check.data.eq(byte), check.valid.eq(got), check.start.eq(field == F.CODE)]

        # The check folds a byte in 8 cycles, and a line byte's event reaches it four cycles after the byte came:
        # a byte is taken only when neither the check nor the way to it holds one, so the check is free for every
        # event and done at the frame's end (a byte every 13 cycles at most; the UART brings one every
        # 10 * divisor >= 40).
        in_decoder = Signal(4)                       # a byte was taken one to four cycles ago
        m.d.sync += in_decoder.eq(Cat(self.rx.valid & self.rx.ready, in_decoder[:-1]))
        m.d.comb += [self.rx.ready.eq(~in_decoder.any() & ~check.busy),
                     dec.i.valid.eq(self.rx.valid & self.rx.ready), dec.i.payload.eq(self.rx.payload)]

        # What the frame is, learnt from its CODE and kept as flags, so no compare of the code stands in front of
        # later decisions.
        code, tag = Signal(8), Signal(8)
        is_ = {c: Signal(name=f"is_{c.name.lower()}") for c in Command}
        known = Signal()
        expect = Signal(range(longest + 1))          # the content's length for this command
        stageable = Signal()                         # a command with a payload to stage, and room to stage it
        count = Signal(range(longest + 2))           # content bytes so far, stopping one past the longest
        bad_rx = Signal()
        staged_ok = Signal(init=1)                   # the input staging memory holds the last accepted inputs

        # Staging: values assembled byte by byte and written a cycle after their last byte.
        staging = Signal()                           # this frame's payload bytes are being staged
        stage_left = Signal(range(max(payload_len.values()) + 1))   # payload bytes to stage after this one
        vidx = Signal(range(max(self.n_in, WEIGHT_CHUNK) + 1))      # value number in the payload
        bsel = Signal(range(max(self.in_bytes, self.weight_bytes)))  # byte within the value
        acc = Signal(8 * max(self.in_bytes, self.weight_bytes))
        header = Signal(range(WEIGHT_HEADER_BYTES + 1))              # LOAD_WEIGHTS header bytes taken

        def staged_write(port, nbytes, name):
            we = Signal(name=f"{name}_we")
            m.d.sync += [we.eq(0), port.addr.eq(vidx), port.data.eq(Cat(acc[:8 * (nbytes - 1)], byte))]
            m.d.comb += port.en.eq(we)
            return we

        input_we = staged_write(self.inputs, self.in_bytes, "input_staging")

        # LOAD_WEIGHTS: a header (PE, first address, count), then the words into their own staging memory.
        bad_address = Signal()
        pe, addr, words = Signal(8), Signal(16), Signal(8)
        if loads:
            weight_we = staged_write(self.weights, self.weight_bytes, "weight_staging")
            limit = Signal(range(max(self.weight_words) + 1))   # the entries of PE `pe`; 0 for no such PE
            with m.Switch(pe):
                for p, n in enumerate(self.weight_words):
                    with m.Case(p):
                        m.d.sync += limit.eq(n)
                with m.Default():
                    m.d.sync += limit.eq(0)
            # Registered in two steps (the sum, then the test): in one cycle, mux, adder and compare were the
            # UP5K's slowest path (25 ns) with 62,999 entries on a PE. The header's fields settle at least a byte
            # (10 bit times of `divisor` >= 4 cycles) before the frame can end, so the test is ready by then.
            end = Signal(17, name="weights_end")
            m.d.sync += [end.eq(addr + words),
                         bad_address.eq((words == 0) | (words > WEIGHT_CHUNK) | (end > limit))]

        def assemble(nbytes, we):
            with m.If(bsel == nbytes - 1):
                m.d.sync += [we.eq(1), vidx.eq(vidx + 1), bsel.eq(0)]
            with m.Else():
                m.d.sync += [acc.word_select(bsel, 8).eq(byte), bsel.eq(bsel + 1)]

        with m.If(self.rx_error):
            m.d.sync += bad_rx.eq(1)
        with m.Elif(boundary & ~ends):
            m.d.sync += bad_rx.eq(0)              # an error between frames is not this frame's

        with m.If(got):
            m.d.sync += count.eq(Mux(count == longest + 1, count, count + 1))
            with m.Switch(field):
                with m.Case(F.CODE):
                    room = ~req.valid & ~self.port.staging_busy
                    m.d.sync += [code.eq(byte), field.eq(F.TAG), known.eq(0), expect.eq(0), vidx.eq(0),
                                 bsel.eq(0), header.eq(0)]
                    m.d.sync += [flag.eq(byte_is[c]) for c, flag in is_.items()]
                    for c, n in payload_len.items():
                        with m.If(byte_is[c]):
                            m.d.sync += [known.eq(1), expect.eq(2 + n + CHECK_BYTES)]
                            if c in staged:
                                m.d.sync += [stageable.eq(room), staging.eq(room), stage_left.eq(n - 1)]
                    with m.If(byte_is[Command.WRITE_INPUTS] & room):
                        m.d.sync += staged_ok.eq(0)   # the staged inputs are overwritten from here on
                with m.Case(F.TAG):
                    m.d.sync += [tag.eq(byte), field.eq(F.PAYLOAD)]
                with m.Case(F.PAYLOAD):
                    with m.If(staging):
                        m.d.sync += stage_left.eq(stage_left - 1)
                        with m.If(stage_left == 0):
                            m.d.sync += staging.eq(0)
                        with m.If(is_[Command.WRITE_INPUTS]):
                            assemble(self.in_bytes, input_we)
                        if loads:
                            with m.If(is_[Command.LOAD_WEIGHTS]):
                                with m.If(header != WEIGHT_HEADER_BYTES):
                                    m.d.sync += header.eq(header + 1)
                                    with m.Switch(header):
                                        for i, part in enumerate([pe, addr[:8], addr[8:], words]):
                                            with m.Case(i):
                                                m.d.sync += part.eq(byte)
                                with m.Else():
                                    assemble(self.weight_bytes, weight_we)

        # At the frame's end its tests are registered, and judged in the next cycle (the tests and the choice among
        # them in one clock period were the top level's longest path on both families).
        fault = {s: Signal(name=f"fault_{s.name.lower()}") for s in (
            Status.RX_ERROR, Status.BAD_CHECKSUM, Status.UNKNOWN_COMMAND, Status.BAD_LENGTH, Status.BAD_ADDRESS,
            Status.NO_INPUTS, Status.BUSY)}
        timed_out, judge = Signal(), Signal()
        m.d.sync += judge.eq(ends)
        with m.If(ends):
            tests = {
                Status.RX_ERROR: bad_rx | self.rx_error,
                Status.BAD_CHECKSUM: (kind == Event.BROKEN) | (count < 2 + CHECK_BYTES) | ~check.match_detected,
                Status.UNKNOWN_COMMAND: ~known,
                Status.BAD_LENGTH: count != expect,
                Status.BAD_ADDRESS: is_[Command.LOAD_WEIGHTS] & bad_address,
                Status.NO_INPUTS: is_[Command.RUN] & ~staged_ok,
                Status.BUSY: Cat(*[is_[c] for c in staged]).any() & ~stageable,
            }
            m.d.sync += [fault[s].eq(test) for s, test in tests.items()]
            m.d.sync += timed_out.eq(kind == Event.TIMEOUT)
        with m.If(req.ready):
            m.d.sync += req.valid.eq(0)
        with m.If(judge):
            status = Signal(Status)
            with m.If(timed_out):
                m.d.comb += status.eq(Mux(fault[Status.RX_ERROR], Status.RX_ERROR, Status.TIMEOUT))
            with m.Else():
                m.d.comb += status.eq(Status.OK)
                for s, flag in reversed(fault.items()):          # the first fault in the order wins
                    with m.If(flag):
                        m.d.comb += status.eq(s)
            # OK straight from the flags, not through the choice of status (that way was the UP5K top level's
            # longest path: 22.6 ns).
            ok = Signal()
            m.d.comb += ok.eq(~timed_out & ~Cat(*fault.values()).any())
            # A frame that ends while a request waits is dropped (the host sends it again).
            with m.If(~req.valid | req.ready):
                m.d.sync += [req.valid.eq(1), req.payload.code.eq(code), req.payload.tag.eq(tag),
                             req.payload.status.eq(status), req.payload.pe.eq(pe), req.payload.addr.eq(addr),
                             req.payload.count.eq(words)]
                m.d.sync += [getattr(req.payload.does, c.name.lower()).eq(flag & ok) for c, flag in is_.items()]
                with m.If(is_[Command.WRITE_INPUTS] & ok):
                    m.d.sync += staged_ok.eq(1)
            m.d.sync += [field.eq(F.CODE), count.eq(0), code.eq(0), tag.eq(0), known.eq(0), expect.eq(0),
                         staging.eq(0), stageable.eq(0), bad_rx.eq(0)]
            m.d.sync += [flag.eq(0) for flag in is_.values()]
        return m
