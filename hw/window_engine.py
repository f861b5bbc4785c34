"""The window engine: P window PEs (hw/window_pe.py) running a whole network, layer after layer, from one copy of
the activations (golden/window.py: the plan, the layout and the exact timing).

Activations. Both ping-pong buffers live in P lane memories, one word of L = W / P activations per window each
(buffer 0 from word 0, buffer 1 after it). A window is one word of every lane, read at one address into the
window register that every PE sees; PE p writes its finalized rows into lane p, one activation of a word (a
write of its slot only), so all P PEs store in the same cycle. Each lane memory has one read and one write port,
whatever P: the buffers are held once, not once per PE as in the row engine (hw/engine.py).

Windows are read a window ahead: the lanes' words of the next window go into ``next_window`` with its zero mask
``next_nz`` (bit c: column c's activation, after the layer's input ReLU, is not zero; ``nz_ready`` once it is
there), from which the PEs take the next window's first groups; at the window's start (``bnd``) the mask moves to
``nz``, the next window is read, and a cycle later ``next_window`` moves into the window register that the PEs'
multipliers read. So a window lasts at least MIN_WINDOW (3) cycles.

Sequence of a layer (cycle 0: the start is taken): the first window is read ahead in cycles 1-2, the PEs take its
first groups in cycle 3, and it starts in cycle 4; the next window starts in the cycle after every PE is through
the window and holds the next one's first group (``reached``: an AND over the PEs, registered into ``bnd``); after
the last window the read-modify-writes drain, then the sequencer raises ``fin`` for R cycles (every PE finalizes
its local rows 0..R-1) and the layer ends with its last row's write. The next layer starts in that cycle.
golden/window.py states the cycle count; ``FILL``, ``DRAIN``, ``MIN_WINDOW``, ``FINAL`` and ``HANDOVER`` here are
its constants, held equal by a test.

Host port: hw/ports.py's EngineHostPort, as the row network engine's: input i is written at lane ``(i % W) // L``,
word ``i // W``, slot ``i % L``; output row r of the last layer is read from lane ``(r % T) * S``, word ``(r //
T) // L`` of the output buffer, slot ``(r // T) % L``, where S is its rows' parts and T = P / S (S = 1, T = P
unless its rows are split); ``y_data`` three cycles after ``y_addr``: each lane's slot is picked into a register
before the lane is (a block RAM's output into a pick among all P * L activations was too slow a path).

Split rows (golden/window.py): each PE finalizes its parts of the rows; the PEs of a team join them in M steps
(``part`` to ``partner``: at step l, PE q takes PE q + 2^l's when q is a multiple of 2^(l+1)), and the team's first
PE's result is the row's; the others write theirs where nothing reads them.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, enum, wiring
from amaranth.lib.memory import Memory
from amaranth.utils import ceil_log2

from ..golden.window import merge_levels
from .ports import EngineHostPort
from .stages import config_shapes, delay, requant_constants
from .window_pe import FINAL_LATENCY as PE_FINAL_LATENCY, WindowPE, window_shapes

__all__ = ["WindowEngine"]


class Phase(enum.Enum, shape=2):
    """Where the sequencer is in a layer (after FINALIZE, the tail: the last rows' requantization)."""
    IDLE = 0
    WINDOWS = 1
    DRAIN = 2
    FINALIZE = 3


class WindowEngine(wiring.Component):
    """Runs a network planned by golden.window.plan_window_network (`plans`, one per layer, same P and W) with one
    start and one done, behind an EngineHostPort. `dsp`: the DSP primitive of the PEs' multipliers (hw/dsp.py);
    `counter_bits`: width of the cycle counters."""

    FILL = 3                    # cycles between the start and the first window's first issue
    MIN_WINDOW = 3              # a window's cycles at least: the next one's read ahead, its mask ready
    DRAIN = 8                   # cycles between the last issue and the first finalization read
    FINAL = PE_FINAL_LATENCY    # the last finalization read -> the layer's end (its last write, the next start),
                                # with no merge steps (each adds a cycle: ``final`` of an engine)
    HANDOVER = 0
    Y_LATENCY = 3               # the read's address registered, the lane memories' read, each lane's slot picked

    def __init__(self, plans, *, dsp=None, counter_bits=32):
        plans = list(plans)
        if not plans:
            raise ValueError("need at least one layer")
        self.plans = plans
        self.pes, self.window, self.merge = plans[0].pes, plans[0].window, plans[0].merge
        if any((p.pes, p.window, p.merge) != (self.pes, self.window, self.merge) for p in plans):
            raise ValueError("every layer needs the same P, W and merge steps")
        self.final = self.FINAL + self.merge
        self.lanes = self.window // self.pes
        self.n_layers = n = len(plans)
        self.act_bits = max([plans[0].in_bits] + [p.out_bits for p in plans])
        # Words of each buffer: buffer b holds the inputs of layers k with k % 2 == b and the outputs of those with
        # (k + 1) % 2 == b; buffer 1 starts where buffer 0 ends.
        size = [1, 1]
        for k, plan in enumerate(plans):
            size[k % 2] = max(size[k % 2], plan.n_windows)
            size[(k + 1) % 2] = max(size[(k + 1) % 2], plan.out_windows)
        self.buffer_base = [0, size[0]]
        self.lane_depth = size[0] + size[1]
        self.output_buffer = n % 2
        kinds = {p.kind for p in plans}
        self.hi_shape, self.lo_shape, self.v_shape = window_shapes(plans, self.act_bits)
        self.max_rows = max(p.rows for p in plans)
        self.pe = [WindowPE(
            segments=[plan.segments[q] for plan in plans], kinds=kinds, shifts=[p.shift for p in plans],
            clamps=[requant_constants(mult=p.mult, shift=p.shift, relu=p.relu, out_bits=p.out_bits) for p in plans],
            act_bits=self.act_bits, w_bits=max(p.w_bits for p in plans), out_bits=max(p.out_bits for p in plans),
            window=self.window, rows=self.max_rows, hi_shape=self.hi_shape, lo_shape=self.lo_shape,
            v_shape=self.v_shape, dsp=dsp, index=q, merge=self.merge)
            for q in range(self.pes)]
        first, last = plans[0], plans[-1]
        super().__init__(EngineHostPort(n_in=first.n_in, in_bits=first.in_bits, n_out=last.n_out,
                                        out_bits=last.out_bits, n_layers=n, y_latency=self.Y_LATENCY,
                                        counter_bits=counter_bits))

    @property
    def lane_shape(self):
        """One word of a lane memory: L activations."""
        return data.ArrayLayout(signed(self.act_bits), self.lanes)

    def layer_config(self, k):
        """The PEs' per-layer configuration while layer `k` runs: {port name: value}."""
        plan = self.plans[k]
        consts = requant_constants(mult=plan.mult, shift=plan.shift, relu=plan.relu, out_bits=plan.out_bits)
        return {"mac": int(plan.kind == "mac")} | ({"merge": merge_levels(plan.split)} if self.merge else {}) | {
            key: consts[key] for key in config_shapes([p.shift for p in self.plans])}

    def elaborate(self, platform):
        m = Module()
        n, pes, L, W = self.n_layers, self.pes, self.lanes, self.window
        lb, wb = ceil_log2(L), ceil_log2(W)

        # Per-layer registers, loaded as a layer starts.
        shapes = config_shapes([p.shift for p in self.plans])
        cfg = {"mac": Signal()} | ({"merge": Signal(range(self.merge + 1), name="cfg_merge")} if self.merge else {}) \
            | {k: Signal(v, name=f"cfg_{k}") for k, v in shapes.items()}
        relu_in = Signal()
        out_base = Signal(range(self.lane_depth + 1))
        wleft = Signal(range(max(p.n_windows for p in self.plans) + 1))
        rows_left = Signal(range(self.max_rows + 1))
        count = Signal(range(max(self.DRAIN, self.final) + 1))
        phase = Signal(Phase)
        tail = Signal()

        go, finishing = Signal(), Signal()
        k_next = Signal.like(self.layer)
        last_layer = self.layer == n - 1
        m.d.comb += [finishing.eq(tail & (count == 0)),
                     go.eq((self.start & ~self.busy) | (finishing & ~last_layer)),
                     k_next.eq(Mux(self.busy, self.layer + 1, 0))]

        bnd = Signal()
        reached = Signal()
        m.d.comb += reached.eq(Cat(pe.reached for pe in self.pe).all())
        m.d.sync += bnd.eq(0)
        fin = Signal()
        wptr = Signal.like(out_base)            # the lane word of the next window
        next_nz, cur_nz, nz_ready = Signal(W), Signal(W), Signal()
        with m.If(go):
            m.d.sync += [phase.eq(Phase.WINDOWS), self.layer.eq(k_next), self.busy.eq(1), self.done.eq(0), tail.eq(0),
                         nz_ready.eq(0)]
            with m.If(~self.busy):
                m.d.sync += [self.cycles.eq(0)] + [self.layer_cycles[k].eq(0) for k in range(n)]
            with m.Switch(k_next):
                for k, plan in enumerate(self.plans):
                    with m.Case(k):
                        m.d.sync += [cfg[key].eq(value) for key, value in self.layer_config(k).items()]
                        m.d.sync += [relu_in.eq(plan.relu_in), wleft.eq(plan.n_windows),
                                     rows_left.eq(plan.rows - 1),
                                     wptr.eq(self.buffer_base[k % 2]), out_base.eq(self.buffer_base[(k + 1) % 2])]
        with m.Elif(phase == Phase.WINDOWS):
            with m.If(reached):
                with m.If(wleft != 0):
                    m.d.sync += [bnd.eq(1), wleft.eq(wleft - 1), nz_ready.eq(0)]
                with m.Else():
                    m.d.sync += [phase.eq(Phase.DRAIN), count.eq(self.DRAIN - 1)]
        with m.Elif(phase == Phase.DRAIN):
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += [phase.eq(Phase.FINALIZE), fin.eq(1)]
        with m.Elif(phase == Phase.FINALIZE):
            m.d.sync += fin.eq(1)
            m.d.sync += rows_left.eq(rows_left - 1)
            with m.If(rows_left == 0):
                m.d.sync += [phase.eq(Phase.IDLE), fin.eq(0), tail.eq(1), count.eq(self.final - 1)]
        with m.Elif(tail):
            m.d.sync += count.eq(count - 1)
        with m.If(finishing & last_layer):
            m.d.sync += [self.busy.eq(0), self.done.eq(1), tail.eq(0)]
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.Switch(self.layer):
                for k in range(n):
                    with m.Case(k):
                        m.d.sync += self.layer_cycles[k].eq(self.layer_cycles[k] + 1)

        # The window read ahead: the lanes' words of the next window, read after the start and at each `bnd`,
        # through the layer's input ReLU, with its zero mask; the window register takes it a cycle after `bnd`.
        window = Signal(data.ArrayLayout(signed(self.act_bits), W))
        next_window = Signal(data.ArrayLayout(signed(self.act_bits), W))
        fetch = bnd | delay(m, go, "window_prime")
        with m.If(fetch):
            m.d.sync += wptr.eq(wptr + 1)
        with m.If(bnd):
            m.d.sync += cur_nz.eq(next_nz)
        loading = delay(m, fetch, "window_loading")
        with m.If(loading):
            m.d.sync += [window.eq(next_window), nz_ready.eq(1)]

        # Host access, registered a cycle (as the row engine's): the write's lane, word and slot; the read's.
        x_lane = self.x_addr[lb:wb] if wb > lb else Const(0, 1)
        h_we = Signal(pes)
        h_addr = Signal.like(out_base)
        h_slot = Signal(max(1, lb))
        h_data = Signal(signed(self.act_bits))
        m.d.sync += [h_we[q].eq(self.x_we & ~self.busy & (x_lane == q)) for q in range(pes)]
        m.d.sync += [h_addr.eq(self.x_addr[wb:] if len(self.x_addr) > wb else 0), h_data.eq(self.x_data),
                     h_slot.eq(self.x_addr[:lb] if lb else 0)]
        # Output row r of the last layer: team r % T (T = P / S teams), written by the team's first PE, lane
        # (r % T) * S, as its local row r // T.
        pb = ceil_log2(pes)
        sb = merge_levels(self.plans[-1].split)
        tb = pb - sb
        y_row = self.y_addr[tb:] if len(self.y_addr) > tb else Const(0, 1)
        y_word, y_lane, y_slot = Signal.like(h_addr), Signal(max(1, pb)), Signal(max(1, lb))
        y_slot_d = delay(m, y_slot, "y_slot_d")
        m.d.sync += [y_word.eq(self.buffer_base[self.output_buffer] + (y_row >> lb)),
                     y_lane.eq(self.y_addr[:tb] << sb if tb else 0), y_slot.eq(y_row[:lb] if lb else 0)]
        # The PEs start a cycle after the sequencer: the start and the layer number reach all of them from
        # registers (busy -> go -> the PEs' entry addresses was the slowest path, 16.2 ns at P = 16 on the ECP5).
        # They take their first groups no later for it: the first window's mask is ready 3 cycles after `go`.
        pe_start, pe_layer = delay(m, go, "pe_start"), delay(m, k_next, "pe_layer")
        lane_words = []
        for q, pe in enumerate(self.pe):
            m.submodules[f"pe{q}"] = pe
            m.submodules[f"lane{q}"] = mem = Memory(shape=self.lane_shape, depth=self.lane_depth, init=[])
            rd, wr = mem.read_port(), mem.write_port(granularity=1)      # one activation of the word
            m.d.comb += [pe.start.eq(pe_start), pe.layer.eq(pe_layer), pe.bnd.eq(bnd), pe.fin.eq(fin),
                         pe.window.eq(window), pe.nz.eq(cur_nz), pe.next_nz.eq(next_nz), pe.nz_ready.eq(nz_ready)]
            m.d.comb += [getattr(pe, key).eq(value) for key, value in cfg.items()]
            # Merge step l: PE q joins the part of PE q + 2^l into its own (q a multiple of 2^(l+1)).
            for level in range(self.merge):
                if q % (2 << level) == 0 and q + (1 << level) < pes:
                    m.d.comb += pe.partner[level].eq(self.pe[q + (1 << level)].part[level])
            res = pe.result
            pe_slot = res.payload.row[:lb] if lb else Const(0, 1)
            with m.If(res.valid):
                m.d.comb += [wr.addr.eq(out_base + (res.payload.row >> lb)),
                             wr.en.eq(1 << pe_slot if lb else 1)]
                m.d.comb += [wr.data[s].eq(res.payload.value) for s in range(L)]
            with m.Else():
                m.d.comb += [wr.addr.eq(h_addr), wr.en.eq(Mux(h_we[q], 1 << h_slot if lb else 1, 0))]
                m.d.comb += [wr.data[s].eq(h_data) for s in range(L)]
            m.d.comb += rd.addr.eq(Mux(self.busy, wptr, y_word))
            # Each lane's slot of the output read, registered (Y_LATENCY).
            picked = Signal(signed(self.act_bits), name=f"y_pick{q}")
            m.d.sync += picked.eq(rd.data[y_slot_d[:lb] if lb else 0])
            lane_words.append(picked)
            with m.If(loading):
                for s in range(L):
                    x = rd.data[s]
                    m.d.sync += [next_window[q * L + s].eq(Mux(relu_in & x[-1], 0, x)),
                                 next_nz[q * L + s].eq(x.any() & ~(relu_in & x[-1]))]
        y_lane_dd = delay(m, delay(m, y_lane, "y_lane_d"), "y_lane_dd")
        if pes == 1:
            m.d.comb += self.y_data.eq(lane_words[0])
            return m
        with m.Switch(y_lane_dd[:pb]):
            for q in range(pes):
                with m.Case(q):
                    m.d.comb += self.y_data.eq(lane_words[q])
        return m
