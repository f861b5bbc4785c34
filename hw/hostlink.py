"""The host link: a framed request/reply protocol over a byte stream (a UART) that drives a NetworkEngine.

Frames, the same in both directions:

    SYNC (0xA5) | CODE | LEN lo | LEN hi | PAYLOAD (LEN bytes) | CRC

CRC is CRC-8/SMBUS (polynomial 0x07, initial value 0, MSB first, no final xor; check value 0xF4 for b"123456789")
over CODE, LEN and PAYLOAD. A request's CODE is a command; its reply's CODE is the command | 0x80 (REPLY) and its
payload is a status byte followed by the command's reply data. Every request gets exactly one reply; the link
handles one request at a time, and bytes that arrive while it runs the engine or sends a reply are dropped.

    command              request payload                 reply data (after the status byte)
    INFO         0x01    none                            INFO_FORMAT: version, n_in, n_out, in_bits, out_bits,
                                                         layers, PEs, 32-bit design id
    WRITE_INPUTS 0x02    n_in values                     none
    RUN          0x03    none                            cycles (u32), sent when the run is done
    READ_OUTPUTS 0x04    none                            n_out values
    READ_CYCLES  0x05    none                            cycles, then each layer's cycles (u32 each)
    LOAD_WEIGHTS 0x06    PE (u8), address (u16), count    none
                         (u8, 1..WEIGHT_CHUNK), then
                         WEIGHT_CHUNK entry words

LOAD_WEIGHTS exists only in a design whose entry words sit in RAMs without initial contents (the UP5K's SPRAM,
hw/weight_ram.py; INFO's weight_bits is then their width, 0 otherwise, and a design without them answers
UNKNOWN_COMMAND). It writes the first `count` words of the frame to entries address .. address + count - 1 of PE
`PE`; the frame always carries WEIGHT_CHUNK words of ceil(weight_bits / 8) bytes (the unused ones are ignored).
A PE that does not exist or entries beyond the PE's are refused with BAD_ADDRESS. The host loads every PE's words
(the engine's EnginePE.entry_words) before the first RUN.

Values are ceil(bits / 8) bytes each, little endian, two's complement (inputs in in_bits, outputs in out_bits);
multi-byte integers in INFO and the counters are little endian too. Input bytes above in_bits are ignored.

Status codes (first byte of every reply payload):

    OK               0  the command was carried out
    BAD_CHECKSUM     1  the CRC did not match; nothing was applied
    BAD_LENGTH       2  LEN is not the command's payload length; nothing was applied. A LEN above the largest
                        payload this design takes is not waited for: the link discards bytes until the line has
                        been quiet for the timeout, then replies.
    UNKNOWN_COMMAND  3  no such command (or a reserved one)
    TIMEOUT          4  the frame stopped before its end for longer than the inter-byte timeout
    RX_ERROR         5  the UART lost a byte of this frame (framing error or overrun); nothing was applied
    BAD_ADDRESS      6  LOAD_WEIGHTS names a PE or entries the design does not have; nothing was applied
    NO_INPUTS        7  RUN after a refused WRITE_INPUTS: the staged inputs are not whole; nothing was run

Failures are checked in that order after the CRC byte (RX_ERROR first); the reply echoes the CODE as received.
Nothing is half-applied: WRITE_INPUTS and LOAD_WEIGHTS land in staging memories and are copied into the engine only
after the whole frame checked out. RUN copies the staged inputs into the engine again before it starts: a network
with an even number of layers writes its outputs into its inputs' buffer, and a RUN sent again (the driver repeats a
request whose reply was lost) must run on the same inputs. A refused WRITE_INPUTS frame leaves its bytes in the
staging memory, so RUN is then refused (NO_INPUTS) until a WRITE_INPUTS goes through. A frame cut short does not
wedge the link: after ``timeout`` cycles without a byte the link answers TIMEOUT and hunts for SYNC again; bytes
outside a frame are skipped until a SYNC.
"""

import contextlib
import struct

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .protocol import (COUNTER_BYTES, INFO_FORMAT, MAX_LEN, PROTOCOL_VERSION, REPLY, SYNC, WEIGHT_CHUNK,
                       WEIGHT_HEADER, Command, Status, crc8, value_bytes)

__all__ = ["HostLink"]


def _crc8_step(crc, byte):
    """Gateware: the CRC after one more byte. One byte's step is linear over GF(2) in crc ^ byte, so each output
    bit is the xor of the input bits whose unit vector sets it (read off the reference above)."""
    v = crc ^ byte
    return Cat(*[Cat(*[v[i] for i in range(8) if crc8([1 << i]) >> j & 1]).xor() for j in range(8)])


def _bits(n):
    return max(1, ceil_log2(max(1, n)))


class HostLink(wiring.Component):
    """The protocol engine: bytes in on ``rx``, bytes out on ``tx``, a NetworkEngine on the other ports.

    ``rx_error`` (a pulse from the UART: framing error or overrun) marks the frame being received as bad.
    ``timeout``: cycles without a byte after which a frame in progress is abandoned.
    The engine-side ports mirror NetworkEngine's (``start``, ``busy``, ``done``, ``cycles``, ``layer_cycles``,
    ``x_we``/``x_addr``/``x_data``, ``y_addr``/``y_data``); ``y_latency`` is the engine's cycles from ``y_addr`` to
    its ``y_data`` (NetworkEngine.Y_LATENCY).

    `weight_words`: for an engine whose entry words are loaded at run time, the number of entry words of each PE
    (0 for a PE not built), and `weight_bits` their width; the ports ``w_we``/``w_pe``/``w_addr``/``w_data`` then
    write them (NetworkEngine's loading ports).
    """

    def __init__(self, *, n_in, in_bits, n_out, out_bits, n_layers, pes, design_id, timeout, y_latency,
                 counter_bits=32, weight_words=None, weight_bits=0):
        self.n_in, self.in_bits, self.n_out, self.out_bits = n_in, in_bits, n_out, out_bits
        if y_latency < 1:
            raise ValueError("y_latency must be at least one cycle (the engine's read is synchronous)")
        self.y_latency = int(y_latency)
        self.n_layers, self.timeout = n_layers, timeout
        self.in_bytes, self.out_bytes = value_bytes(in_bits), value_bytes(out_bits)
        self.write_len = n_in * self.in_bytes
        self.weight_words = None if weight_words is None else [int(n) for n in weight_words]
        if (self.weight_words is None) != (not weight_bits) or \
                (self.weight_words is not None and len(self.weight_words) != pes):
            raise ValueError("weight_words (one count per PE) and weight_bits go together")
        self.weight_bits, self.weight_bytes = int(weight_bits), value_bytes(weight_bits)
        self.load_len = struct.calcsize(WEIGHT_HEADER) + WEIGHT_CHUNK * self.weight_bytes if weight_bits else 0
        self.body_len = {
            Command.INFO: struct.calcsize(INFO_FORMAT),
            Command.WRITE_INPUTS: 0,
            Command.RUN: COUNTER_BYTES,
            Command.READ_OUTPUTS: n_out * self.out_bytes,
            Command.READ_CYCLES: COUNTER_BYTES * (1 + n_layers),
        }
        if weight_bits:
            self.body_len[Command.LOAD_WEIGHTS] = 0
        if self.write_len > MAX_LEN or 1 + max(self.body_len.values()) > MAX_LEN:
            raise ValueError(f"{n_in} inputs / {n_out} outputs do not fit a frame of {MAX_LEN} bytes")
        if counter_bits > 8 * COUNTER_BYTES:
            raise ValueError(f"counters wider than {8 * COUNTER_BYTES} bits do not fit the protocol")
        if not 0 <= design_id < 1 << 32:
            raise ValueError(f"design id must be a 32-bit unsigned integer, got {design_id!r}")
        if timeout < 1:
            raise ValueError("timeout must be at least one cycle")
        self.info = struct.pack(INFO_FORMAT, PROTOCOL_VERSION, n_in, n_out, in_bits, out_bits, n_layers, pes,
                                design_id, self.weight_bits)
        self.staging = Memory(shape=unsigned(in_bits), depth=n_in, init=[])
        self.weight_staging = Memory(shape=unsigned(weight_bits), depth=WEIGHT_CHUNK, init=[]) if weight_bits \
            else None
        loading = {} if not weight_bits else {
            "w_we": Out(1), "w_pe": Out(_bits(pes)), "w_addr": Out(_bits(max(self.weight_words))),
            "w_data": Out(weight_bits)}
        super().__init__(loading | {
            "rx": In(stream.Signature(8)),
            "rx_error": In(1),
            "tx": Out(stream.Signature(8)),
            "start": Out(1),
            "busy": In(1),
            "done": In(1),
            "cycles": In(counter_bits),
            "layer_cycles": In(data.ArrayLayout(unsigned(counter_bits), n_layers)),
            "x_we": Out(1),
            "x_addr": Out(_bits(n_in)),
            "x_data": Out(signed(in_bits)),
            "y_addr": Out(_bits(n_out)),
            "y_data": In(signed(out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.staging = self.staging
        st_wr, st_rd = self.staging.write_port(), self.staging.read_port()

        cmd = Signal(8)
        # cmd == c for every command, and whether a good frame of it copies inputs in: flags set as cmd comes, so
        # that no test of cmd stands in front of next-state logic or a reply byte.
        cmd_is = {c: Signal(name=f"cmd_is_{c.name.lower()}") for c in Command}
        to_commit = Signal()
        max_len = max(self.write_len, self.load_len)     # the largest payload any command takes
        max_body = max(self.body_len.values())

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

        len_lo = Signal(8)
        len_lo_above, len_lo_zero = Signal(), Signal()   # the low byte's tests, kept for the high byte's
        length = Signal(range(max_len + 1))              # a longer frame is drained, never counted
        # Payload bytes still to come after the one being taken, minus one: its sign bit marks the last byte.
        left = Signal(signed(len(length) + 2))
        count = Signal(range(max_len + 1))               # payload bytes received
        crc = Signal(8)
        bad_rx = Signal()
        status = Signal(8)
        body_len = Signal(range(max_body + 1))
        has_body = Signal()                              # body_len != 0, set beside it
        body_left = Signal(signed(len(body_len) + 2))    # reply body bytes after the one being sent, minus one
        reply_len = Signal(16)                           # body_len + 1, set beside it
        vidx = Signal(range(max(self.n_in, WEIGHT_CHUNK) + 1))   # value number of the payload
        bsel = Signal(range(max(self.in_bytes, self.weight_bytes)))  # byte within the value
        # The reply's own counters: shared with the receiving side, each counter's next value was a decode of both
        # sides' conditions, the ECP5 top level's longest path (state -> transmitter ready -> vidx, 7.0 ns).
        sent_count = Signal(range(max_body + 1))         # reply body bytes sent
        oidx = Signal(range(self.n_out + 1))             # output value number
        osel = Signal(range(self.out_bytes))             # byte within the output value
        acc = Signal(8 * max(self.in_bytes, self.weight_bytes))   # a value being assembled
        timer = Signal(range(self.timeout + 1))
        expired = Signal()                               # timer == timeout, registered beside it (a short path)
        # Cycles until body_r holds the next reply byte: a new output value is addressed, read y_latency cycles
        # later, registered in y_ext, its byte registered in body_r.
        new_value = self.y_latency + 2
        settle = Signal(range(new_value + 1))
        staged_ok = Signal(init=1)                       # the staging memory holds the last accepted inputs
        # The engine's run is over, registered (the FSM's next state waited on the engine's done logic, a long path on
        # the UP5K); low in the cycle `start` is high, when done still holds the run before.
        run_over = Signal()
        m.d.sync += run_over.eq(self.done & ~self.busy & ~self.start)
        fault = {code: Signal(name=f"fault_{code.name.lower()}")         # a frame's tests, first reported first
                 for code in (Status.RX_ERROR, Status.BAD_CHECKSUM, Status.UNKNOWN_COMMAND, Status.BAD_LENGTH,
                              Status.BAD_ADDRESS, Status.NO_INPUTS)}
        faulty = Signal()                                # any of them

        # UART errors mark the frame; a SYNC starts a clean one.
        with m.If(rx_error):
            m.d.sync += bad_rx.eq(1)

        known = Signal()
        expect = Signal.like(length)
        with m.Switch(cmd):
            for c in self.body_len:
                with m.Case(c):
                    m.d.comb += [known.eq(1), expect.eq({Command.WRITE_INPUTS: self.write_len,
                                                         Command.LOAD_WEIGHTS: self.load_len}.get(c, 0))]

        # The staging memory: written while a WRITE_INPUTS frame of the right length comes in (the bits of a
        # value above in_bits are dropped here). That test (and LOAD_WEIGHTS's) is registered as LEN's last byte
        # comes, and the write itself lands a cycle after its byte (long before the copy reads it): the compares of
        # cmd and length, then the state decode, in front of the LUT RAM's write enable were the ECP5 top level's
        # longest paths.
        write_ok, load_ok = Signal(), Signal()
        frame_is = {Command.WRITE_INPUTS: (write_ok, self.write_len), Command.LOAD_WEIGHTS: (load_ok, self.load_len)}

        def staged_write(port, value_bytes, name):
            we = Signal(name=f"{name}_we")
            m.d.sync += [we.eq(0), port.addr.eq(vidx), port.data.eq(Cat(acc[:8 * (value_bytes - 1)], byte))]
            m.d.comb += port.en.eq(we)
            return we

        st_we = staged_write(st_wr, self.in_bytes, "staging")

        # The copy from staging into the engine: address, data one cycle later, then the write from registers (a
        # deep staging memory in LUT RAM, read straight into every replica of the engine's input buffer, was the
        # demo network's longest path on the ECP5).
        cidx = Signal(range(max(self.n_in, WEIGHT_CHUNK if self.weight_bits else 0, 2)))
        copy_left = Signal(signed(len(cidx) + 2))        # values to copy after cidx's, minus one
        wr_pend = Signal()
        wr_addr = Signal.like(self.x_addr)
        m.d.sync += [wr_pend.eq(0), self.x_we.eq(wr_pend), self.x_addr.eq(wr_addr), self.x_data.eq(st_rd.data)]
        m.d.comb += st_rd.addr.eq(cidx)

        # LOAD_WEIGHTS: a header, the words into their own staging memory, then the copy into PE `hdr_pe`.
        loads = self.weight_staging is not None
        bad_address = Signal()
        if loads:
            m.submodules.weight_staging = self.weight_staging
            wst_wr, wst_rd = self.weight_staging.write_port(), self.weight_staging.read_port()
            hdr_pe, hdr_addr, hdr_count = Signal(8), Signal(16), Signal(8)
            limit = Signal(range(max(self.weight_words) + 1))   # the entries of PE hdr_pe; 0 for no such PE
            with m.Switch(hdr_pe):
                for p, n in enumerate(self.weight_words):
                    with m.Case(p):
                        m.d.comb += limit.eq(n)
            m.d.comb += [
                bad_address.eq((hdr_count == 0) | (hdr_count > WEIGHT_CHUNK) | (hdr_addr + hdr_count > limit)),
            ]
            ww_pend, ww_addr = Signal(), Signal.like(self.w_addr)
            m.d.sync += ww_pend.eq(0)
            wst_we = staged_write(wst_wr, self.weight_bytes, "weight_staging")
            m.d.comb += [wst_rd.addr.eq(cidx), self.w_we.eq(ww_pend), self.w_pe.eq(hdr_pe),
                         self.w_addr.eq(ww_addr), self.w_data.eq(wst_rd.data)]

        # Reply bytes.
        tx_crc = Signal(8)
        body = Signal(8)
        counters = Cat(*[Cat(v, Const(0, 8 * COUNTER_BYTES - len(v)))
                         for v in [self.cycles] + [self.layer_cycles[k] for k in range(self.n_layers)]])
        # The output value is registered before its byte is chosen: an engine's output buffer can be a deep LUT RAM
        # whose read is a mux tree of its own (the demo network's on the ECP5, 784 words).
        y_ext = Signal(signed(8 * self.out_bytes))
        m.d.sync += y_ext.eq(self.y_data)
        m.d.comb += self.y_addr.eq(oidx)
        # The body's source is chosen by cmd's flags (a decode of cmd here was on a longest path).
        with m.If(cmd_is[Command.INFO]):
            with m.Switch(sent_count):
                for i, b in enumerate(self.info):
                    with m.Case(i):
                        m.d.comb += body.eq(b)
        with m.Elif(cmd_is[Command.RUN] | cmd_is[Command.READ_CYCLES]):
            m.d.comb += body.eq(counters.word_select(sent_count[:_bits(len(counters) // 8)], 8))
        with m.Elif(cmd_is[Command.READ_OUTPUTS]):
            m.d.comb += body.eq(y_ext.word_select(osel, 8) if self.out_bytes > 1 else y_ext)
        # The byte is registered before it goes out: the output buffer's bank select -> the byte choice -> the
        # transmitter's shift register was the ECP5 top level's longest path. After a byte is taken the next one
        # is in body_r a cycle later, `new_value` cycles when it is a new output value.
        body_r = Signal(8)
        m.d.sync += [body_r.eq(body), settle.eq(Mux(settle == 0, 0, settle - 1))]
        # A byte the transmitter takes is folded into the reply's CRC in the next cycle, from a register: the byte
        # choice and the CRC step in one clock period were the host link's longest path.
        sent, sent_pend = Signal(8), Signal()
        m.d.sync += sent_pend.eq(0)
        with m.If(sent_pend):
            m.d.sync += tx_crc.eq(_crc8_step(tx_crc, sent))
        rx_crc_next = Signal(8)
        m.d.comb += rx_crc_next.eq(_crc8_step(crc, byte))

        def send(value, then):
            """Offer `value` to the transmitter; when taken, fold it into the CRC and go on."""
            m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(value)]
            with m.If(self.tx.ready):
                m.d.sync += [sent.eq(value), sent_pend.eq(1)]
                go(then)

        def reply(code):
            m.d.sync += status.eq(code)
            go("REPLY_SYNC")

        # The timeout counts the cycles since the last byte in every state; only the states inside a frame look at
        # it. (Counting only in those states put the FSM's state decode in front of the counter, a long path on the
        # ECP5.) It stops at the timeout; any byte restarts it.
        with m.If(got):
            m.d.sync += [timer.eq(0), expired.eq(0)]
        with m.Elif(~expired):
            m.d.sync += [timer.eq(timer + 1), expired.eq(timer == self.timeout - 1)]

        def frame_byte(then):
            """Take a byte of the frame into the CRC; abandon the frame after the timeout."""
            with m.If(got):
                m.d.sync += crc.eq(rx_crc_next)
                go(then)
            with m.Elif(expired):
                reply(Mux(bad_rx, Status.RX_ERROR, Status.TIMEOUT))

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

        with state("HUNT"):
            with m.If(got & is_sync):
                m.d.sync += [crc.eq(0), bad_rx.eq(0), cmd.eq(0), body_len.eq(0), reply_len.eq(1), has_body.eq(0)]
                go("CMD")
        with state("CMD"):
            with m.If(got):
                m.d.sync += [cmd.eq(byte), to_commit.eq((byte == Command.WRITE_INPUTS) | (byte == Command.RUN))]
                m.d.sync += [flag.eq(byte == c) for c, flag in cmd_is.items()]
            frame_byte("LEN_LO")
        with state("LEN_LO"):
            with m.If(got):
                m.d.sync += [len_lo.eq(byte), len_lo_above.eq(above_lo), len_lo_zero.eq(is_zero)]
            frame_byte("LEN_HI")
        with state("LEN_HI"):
            with m.If(got):
                m.d.sync += [length.eq(Cat(len_lo, byte)), left.eq(Cat(len_lo, byte) - 2), count.eq(0),
                             vidx.eq(0), bsel.eq(0)]
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
                        with m.If(count < struct.calcsize(WEIGHT_HEADER)):
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
            # The frame's tests are registered as the check byte comes, and judged in the next cycle: the tests
            # and the choice among them, in one clock period, were the top level's longest path on both families.
            frame_byte("VERDICT")
            with m.If(got):
                tests = {
                    Status.RX_ERROR: bad_rx | rx_error,
                    Status.BAD_CHECKSUM: byte != crc,
                    Status.UNKNOWN_COMMAND: ~known,
                    Status.BAD_LENGTH: length != expect,
                    Status.BAD_ADDRESS: cmd_is[Command.LOAD_WEIGHTS] & bad_address,
                    Status.NO_INPUTS: cmd_is[Command.RUN] & ~staged_ok,
                }
                m.d.sync += [fault[code].eq(test) for code, test in tests.items()]
                m.d.sync += faulty.eq(Cat(*tests.values()).any())
        with state("VERDICT"):
            # The status is the first fault in order of precedence; where the FSM goes next depends only on
            # registered flags (`faulty`, and cmd's).
            for i, (code, flag) in enumerate(fault.items()):
                with (m.Elif if i else m.If)(flag):
                    m.d.sync += status.eq(code)
            with m.Else():
                m.d.sync += status.eq(Status.OK)
                with m.Switch(cmd):
                    for c, n in self.body_len.items():
                        with m.Case(c):
                            m.d.sync += [body_len.eq(n), reply_len.eq(n + 1), has_body.eq(n > 0),
                                         body_left.eq(n - 2)]
                with m.If(cmd_is[Command.WRITE_INPUTS]):
                    m.d.sync += staged_ok.eq(1)
            copies = Mux(cmd_is[Command.LOAD_WEIGHTS], hdr_count, self.n_in) if loads else self.n_in
            m.d.sync += [cidx.eq(0), copy_left.eq(copies - 2)]
            with m.If(faulty):
                go("REPLY_SYNC")
            with m.Elif(to_commit):
                go("COMMIT")
            if loads:
                with m.Elif(cmd_is[Command.LOAD_WEIGHTS]):
                    go("COMMIT_WEIGHTS")
            with m.Else():
                go("REPLY_SYNC")
        with state("DRAIN"):
            with m.If(~got & expired):
                reply(Status.BAD_LENGTH)

        with state("COMMIT"):
            m.d.sync += [wr_pend.eq(1), wr_addr.eq(cidx), cidx.eq(cidx + 1), copy_left.eq(copy_left - 1)]
            with m.If(copy_left[-1]):
                go("COMMIT_LAST")
        if loads:
            with state("COMMIT_WEIGHTS"):
                m.d.sync += [ww_pend.eq(1), ww_addr.eq(hdr_addr + cidx), cidx.eq(cidx + 1),
                             copy_left.eq(copy_left - 1)]
                with m.If(copy_left[-1]):
                    go("COMMIT_LAST")
        with state("COMMIT_LAST"):                 # the last value is read in this cycle
            go("COMMIT_DONE")
        with state("COMMIT_DONE"):                 # ... and written in this one
            with m.If(cmd_is[Command.RUN]):
                m.d.sync += self.start.eq(1)
                go("RUN")
            with m.Else():
                go("REPLY_SYNC")
        with state("RUN"):
            # `start` is high in this cycle, from a register: the state decode and the engine's start logic
            # (its counters' resets) were the top level's longest path on the UP5K.
            m.d.sync += self.start.eq(0)
            go("WAIT")
        with state("WAIT"):
            with m.If(run_over):
                go("REPLY_SYNC")

        with state("REPLY_SYNC"):
            m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(SYNC)]
            with m.If(self.tx.ready):
                m.d.sync += [tx_crc.eq(0), sent_count.eq(0), oidx.eq(0), osel.eq(0), settle.eq(new_value)]
                go("REPLY_CODE")
        with state("REPLY_CODE"):
            send(cmd | REPLY, "REPLY_LEN_LO")
        with state("REPLY_LEN_LO"):
            send(reply_len[:8], "REPLY_LEN_HI")
        with state("REPLY_LEN_HI"):
            send(reply_len[8:], "REPLY_STATUS")
        with state("REPLY_STATUS"):
            with m.If(has_body):
                send(status, "REPLY_BODY")
            with m.Else():
                send(status, "REPLY_CRC")
        with state("REPLY_BODY"):
            with m.If(settle == 0):
                send(body_r, "REPLY_BODY")
                with m.If(self.tx.ready):
                    m.d.sync += [sent_count.eq(sent_count + 1), body_left.eq(body_left - 1), settle.eq(1)]
                    with m.If(body_left[-1]):
                        go("REPLY_CRC")
                    with m.If(osel == self.out_bytes - 1):
                        m.d.sync += [osel.eq(0), oidx.eq(oidx + 1), settle.eq(new_value)]
                    with m.Else():
                        m.d.sync += osel.eq(osel + 1)
        with state("REPLY_CRC"):
            # Waits out the last byte's CRC step (a transmitter that takes a byte every cycle gets here first).
            m.d.comb += [self.tx.valid.eq(~sent_pend), self.tx.payload.eq(tx_crc)]
            with m.If(self.tx.ready & ~sent_pend):
                go("HUNT")
        return m
