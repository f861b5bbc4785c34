"""The host link's receiver: frames in from the UART, checked, their payload staged, one request out per frame.

It parses a frame (hw/protocol.py), writes WRITE_INPUTS's values and LOAD_WEIGHTS's words into the staging memories
(the executor copies them into the engine only after the whole frame checked out), and hands the executor one
Request with the status the frame earned. Frames are taken only while the executor is idle.
"""

import contextlib

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .link_types import CHECK_PARAMETERS, Command, RequestPort, Status
from .protocol import CHECK_BYTES, SYNC, WEIGHT_CHUNK, WEIGHT_HEADER_BYTES, value_bytes

__all__ = ["Receiver"]


def _bits(n):
    return max(1, ceil_log2(max(1, n)))


class Receiver(wiring.Component):
    """``rx``: bytes from the UART; ``rx_error``: its error pulse (framing error or overrun), which marks the frame
    being received as bad. ``port``: the requests. ``inputs`` and ``weights``: write ports of the staging memories.
    `timeout`: cycles without a byte after which a frame in progress is abandoned. `weight_words`: each PE's entry
    count when the weights are loaded over the link (None otherwise), `weight_bits` their width."""

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
        loads = self.weight_words is not None
        expected = {Command.INFO: 0, Command.WRITE_INPUTS: self.write_len, Command.RUN: 0, Command.READ_OUTPUTS: 0,
                    Command.READ_CYCLES: 0}
        if loads:
            expected[Command.LOAD_WEIGHTS] = self.load_len
        max_len = max(expected.values())                 # the largest payload any command takes
        req = self.port.request

        # The input stage: every byte (the link always takes it) and the UART's error pulse are registered, and with
        # the byte the tests the state machine makes on it. So no state's next-state logic holds a compare of a
        # byte: the state decode and such compares in one clock period were the top level's longest paths on both
        # families. Every condition below is likewise a register, or a flag registered a step ahead.
        got, byte, rx_error = Signal(), Signal(8), Signal()
        is_sync, is_zero = Signal(), Signal()
        above_hi, at_hi, above_lo = Signal(), Signal(), Signal()   # against max_len's high and low bytes
        m.d.comb += self.rx.ready.eq(1)
        raw = self.rx.payload
        m.d.sync += [got.eq(self.rx.valid), byte.eq(raw), rx_error.eq(self.rx_error),
                     is_sync.eq(raw == SYNC), is_zero.eq(raw == 0), above_hi.eq(raw > max_len >> 8),
                     at_hi.eq(raw == max_len >> 8), above_lo.eq(raw > (max_len & 0xFF))]

        cmd = Signal(8)
        # cmd == c for every command: flags set as cmd comes, so that no test of cmd stands in front of next-state
        # logic.
        cmd_is = {c: Signal(name=f"cmd_is_{c.name.lower()}") for c in Command}
        len_lo = Signal(8)
        len_lo_above, len_lo_zero = Signal(), Signal()   # the low byte's tests, kept for the high byte's
        length = Signal(range(max_len + 1))              # a longer frame is drained, never counted
        # Payload bytes still to come after the one being taken, minus one: its sign bit marks the last byte.
        left = Signal(signed(len(length) + 2))
        count = Signal(range(max_len + 1))               # payload bytes received
        check_left = Signal(range(CHECK_BYTES))        # check bytes after the one being taken
        bad_rx = Signal()
        vidx = Signal(range(max(self.n_in, WEIGHT_CHUNK) + 1))          # value number of the payload
        bsel = Signal(range(max(self.in_bytes, self.weight_bytes)))      # byte within the value
        acc = Signal(8 * max(self.in_bytes, self.weight_bytes))          # a value being assembled
        timer = Signal(range(self.timeout + 1))
        expired = Signal()                               # timer == timeout, registered beside it (a short path)
        staged_ok = Signal(init=1)                       # the staging memory holds the last accepted inputs
        fault = {code: Signal(name=f"fault_{code.name.lower()}")         # a frame's tests, first reported first
                 for code in (Status.RX_ERROR, Status.BAD_CHECKSUM, Status.UNKNOWN_COMMAND, Status.BAD_LENGTH,
                              Status.BAD_ADDRESS, Status.NO_INPUTS)}

        # UART errors mark the frame; a SYNC starts a clean one.
        with m.If(rx_error):
            m.d.sync += bad_rx.eq(1)

        known = Signal()
        expect = Signal.like(length)
        with m.Switch(cmd):
            for c, n in expected.items():
                with m.Case(c):
                    m.d.comb += [known.eq(1), expect.eq(n)]

        # The staging memories are written while a frame of the right length comes in (the bits of a value above its
        # width are dropped here). That test is registered as LEN's last byte comes, and the write itself lands a
        # cycle after its byte: the compares of cmd and length, then the state decode, in front of the LUT RAM's
        # write enable were the ECP5 top level's longest paths.
        write_ok, load_ok = Signal(), Signal()
        frame_is = {Command.WRITE_INPUTS: (write_ok, self.write_len), Command.LOAD_WEIGHTS: (load_ok, self.load_len)}

        def staged_write(port, value_bytes, name):
            we = Signal(name=f"{name}_we")
            m.d.sync += [we.eq(0), port.addr.eq(vidx), port.data.eq(Cat(acc[:8 * (value_bytes - 1)], byte))]
            m.d.comb += port.en.eq(we)
            return we

        st_we = staged_write(self.inputs, self.in_bytes, "staging")

        # LOAD_WEIGHTS: a header (PE, first address, count), then the words into their own staging memory.
        bad_address = Signal()
        hdr_pe, hdr_addr, hdr_count = Signal(8), Signal(16), Signal(8)
        if loads:
            limit = Signal(range(max(self.weight_words) + 1))   # the entries of PE hdr_pe; 0 for no such PE
            with m.Switch(hdr_pe):
                for p, n in enumerate(self.weight_words):
                    with m.Case(p):
                        m.d.comb += limit.eq(n)
            m.d.comb += bad_address.eq((hdr_count == 0) | (hdr_count > WEIGHT_CHUNK) | (hdr_addr + hdr_count > limit))
            wst_we = staged_write(self.weights, self.weight_bytes, "weight_staging")
        m.d.comb += [req.payload.pe.eq(hdr_pe), req.payload.addr.eq(hdr_addr), req.payload.count.eq(hdr_count),
                     req.payload.code.eq(cmd)]

        # The frame check: every byte after SYNC, the check's own included, goes through it; a frame that checks out
        # leaves the register at the algorithm's residue (match_detected).
        m.submodules.check = check = CHECK_PARAMETERS.create()
        m.d.comb += check.data.eq(byte)

        # The timeout counts the cycles since the last byte in every state; only the states inside a frame look at
        # it. (Counting only in those states put the FSM's state decode in front of the counter, a long path on the
        # ECP5.) It stops at the timeout; any byte restarts it.
        with m.If(got):
            m.d.sync += [timer.eq(0), expired.eq(0)]
        with m.Elif(~expired):
            m.d.sync += [timer.eq(timer + 1), expired.eq(timer == self.timeout - 1)]

        # The state machine, one-hot: a flip-flop per state, so that no condition waits for the decode of a state
        # number (Amaranth's FSM is binary-coded; that decode in front of the conditions put the link's paths
        # among the ECP5 top level's longest). `go` leaves the state whose block it is in for another.
        active, here = {}, []

        def state_flag(name):
            if name not in active:
                active[name] = Signal(name=f"in_{name.lower()}", init=name == "HUNT")
            return active[name]

        @contextlib.contextmanager
        def state(name):
            with m.If(state_flag(name)):
                here.append(name)
                yield
                here.pop()

        def go(name):
            if name != here[-1]:
                m.d.sync += [state_flag(here[-1]).eq(0), state_flag(name).eq(1)]

        def answer(code):
            m.d.sync += [req.payload.status.eq(code), req.valid.eq(1)]
            go("OFFER")

        def frame_byte(then):
            """Take a byte of the frame into the check; abandon the frame after the timeout."""
            with m.If(got):
                m.d.comb += check.valid.eq(1)
                go(then)
            with m.Elif(expired):
                answer(Mux(bad_rx, Status.RX_ERROR, Status.TIMEOUT))

        with state("HUNT"):
            with m.If(got & is_sync):
                m.d.comb += check.start.eq(1)
                m.d.sync += [bad_rx.eq(0), cmd.eq(0)]
                m.d.sync += [flag.eq(0) for flag in cmd_is.values()]
                go("CMD")
        with state("CMD"):
            with m.If(got):
                m.d.sync += cmd.eq(byte)
                m.d.sync += [flag.eq(byte == c) for c, flag in cmd_is.items()]
            frame_byte("LEN_LO")
        with state("LEN_LO"):
            with m.If(got):
                m.d.sync += [len_lo.eq(byte), len_lo_above.eq(above_lo), len_lo_zero.eq(is_zero)]
            frame_byte("LEN_HI")
        with state("LEN_HI"):
            with m.If(got):
                m.d.sync += [length.eq(Cat(len_lo, byte)), left.eq(Cat(len_lo, byte) - 2), count.eq(0),
                             vidx.eq(0), bsel.eq(0), check_left.eq(CHECK_BYTES - 1)]
                m.d.sync += [ok.eq(cmd_is[c] & (Cat(len_lo, byte) == n)) for c, (ok, n) in frame_is.items()]
                with m.If(above_hi | (at_hi & len_lo_above)):     # LEN > max_len
                    frame_byte("DRAIN")
                with m.Elif(is_zero & len_lo_zero):
                    frame_byte("CHECK")
                with m.Else():
                    frame_byte("PAYLOAD")
            with m.Else():
                frame_byte("PAYLOAD")
        with state("PAYLOAD"):
            frame_byte("PAYLOAD")
            with m.If(got):
                m.d.sync += [count.eq(count + 1), left.eq(left - 1)]
                with m.If(left[-1]):
                    go("CHECK")
                with m.If(write_ok):
                    m.d.sync += staged_ok.eq(0)
                    with m.If(bsel == self.in_bytes - 1):
                        m.d.sync += [st_we.eq(1), vidx.eq(vidx + 1), bsel.eq(0)]
                    with m.Else():
                        m.d.sync += [acc.word_select(bsel, 8).eq(byte), bsel.eq(bsel + 1)]
                if loads:
                    with m.If(load_ok):
                        with m.If(count < WEIGHT_HEADER_BYTES):
                            with m.Switch(count):
                                with m.Case(0):
                                    m.d.sync += hdr_pe.eq(byte)
                                with m.Case(1):
                                    m.d.sync += hdr_addr[:8].eq(byte)
                                with m.Case(2):
                                    m.d.sync += hdr_addr[8:].eq(byte)
                                with m.Case(3):
                                    m.d.sync += hdr_count.eq(byte)
                        with m.Elif(bsel == self.weight_bytes - 1):
                            m.d.sync += [wst_we.eq(1), vidx.eq(vidx + 1), bsel.eq(0)]
                        with m.Else():
                            m.d.sync += [acc.word_select(bsel, 8).eq(byte), bsel.eq(bsel + 1)]
        with state("CHECK"):
            # The frame's tests are registered as the last check byte comes, the check's verdict a cycle later, and
            # all are judged in the cycle after: the tests and the choice among them, in one clock period, were the
            # top level's longest path on both families.
            frame_byte("CHECK")
            with m.If(got):
                m.d.sync += check_left.eq(check_left - 1)
                with m.If(check_left == 0):
                    tests = {
                        Status.RX_ERROR: bad_rx | rx_error,
                        Status.UNKNOWN_COMMAND: ~known,
                        Status.BAD_LENGTH: length != expect,
                        Status.BAD_ADDRESS: cmd_is[Command.LOAD_WEIGHTS] & bad_address,
                        Status.NO_INPUTS: cmd_is[Command.RUN] & ~staged_ok,
                    }
                    m.d.sync += [fault[code].eq(test) for code, test in tests.items()]
                    go("CHECKED")
        with state("CHECKED"):
            m.d.sync += fault[Status.BAD_CHECKSUM].eq(~check.match_detected)
            go("VERDICT")
        with state("VERDICT"):
            # The status is the first fault in order of precedence.
            for i, (code, flag) in enumerate(fault.items()):
                with (m.Elif if i else m.If)(flag):
                    m.d.sync += req.payload.status.eq(code)
            with m.Else():
                m.d.sync += req.payload.status.eq(Status.OK)
                with m.If(cmd_is[Command.WRITE_INPUTS]):
                    m.d.sync += staged_ok.eq(1)
            m.d.sync += req.valid.eq(1)
            go("OFFER")
        with state("DRAIN"):
            with m.If(~got & expired):
                answer(Status.BAD_LENGTH)
        with state("OFFER"):
            with m.If(req.ready):
                m.d.sync += req.valid.eq(0)
                go("BUSY")
        with state("BUSY"):
            # The executor runs the request and sends its reply; bytes that come meanwhile are dropped.
            with m.If(req.ready):
                go("HUNT")
        return m
