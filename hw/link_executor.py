"""The host link's command executor: carries out one checked request on the network engine and composes its reply.

WRITE_INPUTS copies the staged inputs into the engine; RUN copies them again (a network with an even number of
layers writes its outputs into its inputs' buffer, and a RUN sent again must run on the same inputs), starts the
engine and waits for it; READ_OUTPUTS reads the output buffer; READ_CYCLES and INFO send counters and constants;
LOAD_WEIGHTS copies the staged entry words into a PE. A request that failed its checks is only answered.
"""

import contextlib

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .link_types import Command, ReplyPort, Request, RequestPort, Status
from .ports import addr_bits
from .protocol import COUNTER_BYTES, REPLY, WEIGHT_CHUNK, value_bytes

__all__ = ["Executor"]


class Executor(wiring.Component):
    """``port``: requests from the receiver; ``reply``: reply content to the sender. ``inputs`` and ``weights``:
    read ports of the staging memories. ``engine``: the engine's host port (`engine_port`, an EngineHostPort,
    flipped). `info`: INFO's reply data (bytes)."""

    def __init__(self, engine_port, *, info):
        p = engine_port
        self.n_in, self.n_out, self.n_layers = p.n_in, p.n_out, p.n_layers
        self.out_bytes, self.info, self.y_latency = value_bytes(p.out_bits), bytes(info), p.y_latency
        self.weight_words = p.weight_words
        self.body_len = {Command.INFO: len(self.info), Command.WRITE_INPUTS: 0, Command.RUN: COUNTER_BYTES,
                         Command.READ_OUTPUTS: p.n_out * self.out_bytes,
                         Command.READ_CYCLES: COUNTER_BYTES * (1 + p.n_layers)}
        members = {
            "port": In(RequestPort()),
            "reply": Out(ReplyPort()),
            "inputs": In(ReadPort.Signature(addr_width=ceil_log2(p.n_in), shape=unsigned(p.in_bits))),
            "engine": In(engine_port),
        }
        if p.loads_weights:
            self.body_len[Command.LOAD_WEIGHTS] = 0
            members["weights"] = In(ReadPort.Signature(addr_width=ceil_log2(WEIGHT_CHUNK),
                                                       shape=unsigned(p.weight_bits)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        loads = self.weight_words is not None
        max_body = max(self.body_len.values())
        req, reply, eng = self.port.request, self.reply.content, self.engine

        # The request being carried out, and a flag per command (set as it is taken, so that no compare of the code
        # stands in front of next-state logic or a reply byte).
        code, tag = Signal(8), Signal(8)
        status = Signal(Status)
        is_ = {c: Signal(name=f"is_{c.name.lower()}") for c in Command}
        hdr = Signal(Request)

        body_len = Signal(range(max_body + 1))
        has_body = Signal()                              # body_len != 0, set beside it
        body_left = Signal(signed(len(body_len) + 2))    # reply body bytes after the one being sent, minus one
        sent_count = Signal(range(max_body + 1))         # reply body bytes sent
        oidx = Signal(range(self.n_out + 1))             # output value number
        osel = Signal(range(self.out_bytes))             # byte within the output value
        # Cycles until body_r holds the next reply byte: a new output value is addressed, read y_latency cycles
        # later, registered in y_ext, its byte registered in body_r.
        new_value = self.y_latency + 2
        settle = Signal(range(new_value + 1))
        # The engine's run is over, registered (the next state waited on the engine's done logic, a long path on the
        # UP5K); low in the cycle `start` is high, when done still holds the run before.
        run_over = Signal()
        m.d.sync += run_over.eq(eng.done & ~eng.busy & ~eng.start)

        # The copy from staging into the engine: address, data one cycle later, then the write from registers (a
        # deep staging memory in LUT RAM, read straight into every replica of the engine's input buffer, was the
        # demo network's longest path on the ECP5).
        cidx = Signal(range(max(self.n_in, WEIGHT_CHUNK if loads else 0, 2)))
        copy_left = Signal(signed(len(cidx) + 2))        # values to copy after cidx's, minus one
        wr_pend = Signal()
        wr_addr = Signal.like(eng.x_addr)
        m.d.sync += [wr_pend.eq(0), eng.x_we.eq(wr_pend), eng.x_addr.eq(wr_addr), eng.x_data.eq(self.inputs.data)]
        m.d.comb += self.inputs.addr.eq(cidx)
        if loads:
            ww_pend, ww_addr = Signal(), Signal.like(eng.w_addr)
            m.d.sync += ww_pend.eq(0)
            m.d.comb += [self.weights.addr.eq(cidx), eng.w_we.eq(ww_pend), eng.w_pe.eq(hdr.pe),
                         eng.w_addr.eq(ww_addr), eng.w_data.eq(self.weights.data)]

        # Reply bytes.
        body = Signal(8)
        counters = Cat(*[Cat(v, Const(0, 8 * COUNTER_BYTES - len(v)))
                         for v in [eng.cycles] + [eng.layer_cycles[k] for k in range(self.n_layers)]])
        # The output value is registered before its byte is chosen: an engine's output buffer can be a deep LUT RAM
        # whose read is a mux tree of its own (the demo network's on the ECP5, 784 words).
        y_ext = Signal(signed(8 * self.out_bytes))
        m.d.sync += y_ext.eq(eng.y_data)
        m.d.comb += eng.y_addr.eq(oidx)
        # A counter's byte is registered before the command's choice: the engine's counters lie far off on the UP5K,
        # and their byte select and that choice in one period were its top level's longest path (22.2 ns).
        counter_byte = Signal(8)
        m.d.sync += counter_byte.eq(counters.word_select(sent_count[:addr_bits(len(counters) // 8)], 8))
        # The body's source is chosen by the command's flags (a decode of the code here was on a longest path).
        with m.If(is_[Command.INFO]):
            with m.Switch(sent_count):
                for i, b in enumerate(self.info):
                    with m.Case(i):
                        m.d.comb += body.eq(b)
        with m.Elif(is_[Command.RUN] | is_[Command.READ_CYCLES]):
            m.d.comb += body.eq(counter_byte)
        with m.Elif(is_[Command.READ_OUTPUTS]):
            m.d.comb += body.eq(y_ext.word_select(osel, 8) if self.out_bytes > 1 else y_ext)
        # The byte is registered before it goes out: the output buffer's bank select -> the byte choice -> the
        # transmitter's shift register was the ECP5 top level's longest path. After a byte is taken the next one
        # is in body_r two cycles later (a counter's byte passes counter_byte first), `new_value` cycles when it is
        # a new output value.
        body_r = Signal(8)
        m.d.sync += [body_r.eq(body), settle.eq(Mux(settle == 0, 0, settle - 1))]

        # The state machine, one-hot: a flip-flop per state, so that no condition waits for the decode of a state
        # number (a binary state's decode in front of the conditions put the link's paths among the ECP5 top
        # level's longest). `go` leaves the state whose block it is in for another.
        active, here = {}, []

        def state_flag(name):
            if name not in active:
                active[name] = Signal(name=f"in_{name.lower()}", init=name == "IDLE")
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

        copying = ["COPY", "COPY_LAST"] + (["COPY_WEIGHTS"] if loads else [])

        def send(value, then, last=0, when=1):
            """Offer `value` to the sender once `when`; go on once it is taken. The byte does not wait for `when`:
            the wait for a new output value in front of the byte's choice and the encoder's zero test was the ECP5
            top level's longest path."""
            m.d.comb += [reply.valid.eq(when), reply.payload.data.eq(value), reply.payload.last.eq(last)]
            with m.If(when & reply.ready):
                go(then)

        with state("IDLE"):
            m.d.comb += req.ready.eq(1)
            with m.If(req.valid):
                p = req.payload
                does = {c: getattr(p.does, c.name.lower()) for c in Command}     # the command, if OK
                m.d.sync += [code.eq(p.code), tag.eq(p.tag), status.eq(p.status), hdr.eq(p), body_len.eq(0),
                             has_body.eq(0), cidx.eq(0)]
                m.d.sync += [flag.eq(does[c]) for c, flag in is_.items()]
                for c, n in self.body_len.items():
                    with m.If(does[c]):
                        m.d.sync += [body_len.eq(n), has_body.eq(n > 0), body_left.eq(n - 2)]
                copies = p.count if loads else 0
                with m.If(does[Command.WRITE_INPUTS] | does[Command.RUN]):
                    m.d.sync += copy_left.eq(self.n_in - 2)
                    go("COPY")
                if loads:
                    with m.Elif(does[Command.LOAD_WEIGHTS]):
                        m.d.sync += copy_left.eq(copies - 2)
                        go("COPY_WEIGHTS")
                with m.Else():
                    go("REPLY_CODE")
        # The receiver must not write the staging memories while they are copied.
        m.d.comb += self.port.staging_busy.eq(Cat(*[state_flag(name) for name in copying]).any())
        with state("COPY"):
            m.d.sync += [wr_pend.eq(1), wr_addr.eq(cidx), cidx.eq(cidx + 1), copy_left.eq(copy_left - 1)]
            with m.If(copy_left[-1]):
                go("COPY_LAST")
        if loads:
            with state("COPY_WEIGHTS"):
                m.d.sync += [ww_pend.eq(1), ww_addr.eq(hdr.addr + cidx), cidx.eq(cidx + 1),
                             copy_left.eq(copy_left - 1)]
                with m.If(copy_left[-1]):
                    go("COPY_LAST")
        with state("COPY_LAST"):                   # the last value is read in this cycle
            go("COPY_DONE")
        with state("COPY_DONE"):                   # ... and written in this one
            with m.If(is_[Command.RUN]):
                m.d.sync += eng.start.eq(1)
                go("RUN")
            with m.Else():
                go("REPLY_CODE")
        with state("RUN"):
            # `start` is high in this cycle, from a register: the state decode and the engine's start logic
            # (its counters' resets) were the top level's longest path on the UP5K.
            m.d.sync += eng.start.eq(0)
            go("WAIT")
        with state("WAIT"):
            with m.If(run_over):
                go("REPLY_CODE")

        with state("REPLY_CODE"):
            m.d.sync += [sent_count.eq(0), oidx.eq(0), osel.eq(0), settle.eq(new_value)]
            send(code | REPLY, "REPLY_TAG")
        with state("REPLY_TAG"):
            send(tag, "REPLY_STATUS")
        with state("REPLY_STATUS"):
            with m.If(has_body):
                send(status, "REPLY_BODY")
            with m.Else():
                send(status, "IDLE", last=1)
        with state("REPLY_BODY"):
            send(body_r, "REPLY_BODY", last=body_left[-1], when=settle == 0)
            with m.If(settle == 0):
                with m.If(reply.ready):
                    m.d.sync += [sent_count.eq(sent_count + 1), body_left.eq(body_left - 1), settle.eq(2)]
                    with m.If(body_left[-1]):
                        go("IDLE")
                    with m.If(osel == self.out_bytes - 1):
                        m.d.sync += [osel.eq(0), oidx.eq(oidx + 1), settle.eq(new_value)]
                    with m.Else():
                        m.d.sync += osel.eq(osel + 1)
        return m
