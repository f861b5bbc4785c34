"""LinkTop: the network engine behind a UART host link, with two pins, ``rx`` and ``tx``.

A plain component (no platform, no PLL): it runs on whatever clock drives its ``sync`` domain; ``divisor`` is
that clock's cycles per UART bit. The board wrapper (fpga/) adds the clock, the PLL and the pin constraints.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .hostlink import HostLink
from .network import NetworkEngine
from .uart import UartRx, UartTx

__all__ = ["LinkTop", "weight_image"]


def weight_image(engine):
    """What the host loads into a LayerEngine built with a `weight_ram`: each PE's entry words (an empty list for
    a PE not built) and their width in bits."""
    built = [pe for pe in engine.pe if pe is not None]
    return [[] if pe is None else pe.entry_words for pe in engine.pe], built[0].entry_shape.size


class LinkTop(wiring.Component):
    """`layers`: the LayerSpecs, as NetworkEngine takes them; or `engine`: an engine already built with an
    EngineHostPort (hw/ports.py; the window engine, hw/window_engine.py) and its PE count `pes`. `divisor`: clock
    cycles per UART bit. `design_id`: the 32-bit id INFO reports (fpga/design_id.py). `timeout`: cycles without a
    byte that abandon a frame. `options`: the row engine's build options (hw/options.py); with a `weight_ram` the
    host link loads the entry words (LOAD_WEIGHTS)."""

    def __init__(self, layers=None, *, divisor, design_id, timeout, options=None, engine=None, pes=None):
        if engine is None:
            layers = list(layers)
            engine, pes = NetworkEngine(layers, options), layers[0].pes
        self.engine = engine
        self.link = HostLink(self.engine.signature, pes=pes, design_id=design_id, timeout=timeout)
        self.uart_rx = UartRx(divisor)
        self.uart_tx = UartTx(divisor)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    # The buffer plan, the engine's: NetworkEngine's own property, which reads it off `self.engine`.
    plan = NetworkEngine.plan

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        m.submodules.link = link = self.link
        m.submodules.uart_rx = urx = self.uart_rx
        m.submodules.uart_tx = utx = self.uart_tx
        wiring.connect(m, urx.o, link.rx)
        wiring.connect(m, link.tx, utx.i)
        wiring.connect(m, link.engine, eng)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), link.rx_error.eq(urx.error | urx.overrun)]
        return m
