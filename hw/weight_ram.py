"""A PE's entry memory as a RAM the host loads at run time: the UP5K's SPRAM, for weights the block RAMs cannot hold.

The SB_SPRAM256KA (16384 words of 16 bits, four per UP5K, 1 Mbit in all against 120 kbit of block RAM) has one
port, shared by reads and writes, and no initial contents: the weights cannot be baked into the bitstream, so the
host link writes them after configuration (hw/hostlink.py, LOAD_WEIGHTS). Yosys does not infer it from an
Amaranth memory (Amaranth gives every memory initial contents, which the SPRAM cannot have), so it is
instantiated, as many side by side as the entry word needs 16-bit slices, and as many banks of those as the
entries need 16384-word blocks: the address's top bits pick the bank that writes, and, registered, the bank whose
word is read.

The Amaranth simulator cannot run an instance: ``primitive=None`` builds the same port behaviour from a plain
memory (what every Amaranth simulation runs); the instances are simulated from Verilog against Yosys's own model.

Ports: ``addr``; ``we`` with ``wdata`` writes; otherwise ``rdata`` is the word at ``addr`` one cycle later (after a
write it is not defined, as on the SPRAM).
"""

from amaranth.hdl import Array, ClockSignal, Const, Instance, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["SPRAM", "SPRAM_DEPTH", "SPRAM_WIDTH", "WEIGHT_RAM_PRIMITIVES", "check_weight_ram", "spram_banks",
           "spram_delta_bits",
           "spram_cells", "WeightRAM"]

SPRAM = "SB_SPRAM256KA"
SPRAM_DEPTH, SPRAM_WIDTH = 16384, 16
WEIGHT_RAM_PRIMITIVES = (SPRAM,)


def check_weight_ram(weight_ram):
    """`weight_ram` as a constructor argument: None (weights baked into a ROM), "memory" (a RAM loaded at run
    time, built from an Amaranth memory) or a known primitive."""
    if weight_ram not in (None, "memory") + WEIGHT_RAM_PRIMITIVES:
        raise ValueError(f"unknown weight RAM {weight_ram!r}; known: memory, {', '.join(WEIGHT_RAM_PRIMITIVES)}")
    return weight_ram


def spram_delta_bits(network):
    """The relative index width of entries (weight, step, last-of-row: hw/pe.py) that fill one SPRAM word for
    `network`'s layers, or None when their weights leave no bit for it."""
    bits = SPRAM_WIDTH - 1 - max(layer.w_bits for layer in network)
    return bits if bits >= 1 else None


def spram_banks(depth):
    """Banks of SPRAMs (16384 words each) that `depth` words take."""
    return max(1, -(-depth // SPRAM_DEPTH))


def spram_cells(depth, width):
    """SPRAMs one weight RAM of `depth` words of `width` bits takes."""
    return spram_banks(depth) * -(-width // SPRAM_WIDTH)


class WeightRAM(wiring.Component):
    def __init__(self, *, depth, width, primitive=None):
        if primitive not in (None,) + WEIGHT_RAM_PRIMITIVES:
            raise ValueError(f"unknown weight RAM primitive {primitive!r}")
        self.depth, self.width, self.primitive = int(depth), int(width), primitive
        # The memory is made only where it is used: an estimate builds the engine with a stand-in for Memory.
        self.mem = Memory(shape=unsigned(width), depth=depth, init=[]) if primitive is None else None
        super().__init__({
            "addr": In(max(1, ceil_log2(max(2, depth)))),
            "we": In(1),
            "wdata": In(width),
            "rdata": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        if self.primitive is None:
            m.submodules.mem = self.mem
            wr, rd = self.mem.write_port(), self.mem.read_port()
            m.d.comb += [wr.addr.eq(self.addr), wr.en.eq(self.we), wr.data.eq(self.wdata),
                         rd.addr.eq(self.addr), rd.en.eq(~self.we), self.rdata.eq(rd.data)]
            return m
        address = Signal(14)
        m.d.comb += address.eq(self.addr)
        banks = spram_banks(self.depth)
        bank = self.addr[14:]                               # empty with one bank
        read_bank = Signal(range(banks), name="read_bank")  # the bank whose word comes out next cycle
        m.d.sync += read_bank.eq(bank)
        bank_out = []
        for b in range(banks):
            we = self.we & (bank == b) if banks > 1 else self.we
            word = Signal(self.width, name=f"rdata_bank{b}")
            bank_out.append(word)
            for s in range(-(-self.width // SPRAM_WIDTH)):
                lo = s * SPRAM_WIDTH
                slice_in = Signal(SPRAM_WIDTH, name=f"wdata{b}_{s}")
                slice_out = Signal(SPRAM_WIDTH, name=f"rdata{b}_{s}")
                m.d.comb += [slice_in.eq(self.wdata[lo:lo + SPRAM_WIDTH]), word[lo:lo + SPRAM_WIDTH].eq(slice_out)]
                m.submodules[f"spram{b}_{s}" if banks > 1 else f"spram{s}"] = Instance(
                    SPRAM, i_ADDRESS=address, i_DATAIN=slice_in, i_MASKWREN=Const(0b1111, 4), i_WREN=we,
                    i_CHIPSELECT=Const(1, 1), i_CLOCK=ClockSignal(), i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1),
                    i_POWEROFF=Const(1, 1), o_DATAOUT=slice_out)
        m.d.comb += self.rdata.eq(bank_out[0] if banks == 1 else Array(bank_out)[read_bank])
        return m
