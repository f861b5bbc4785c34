"""Boards: the FPGA target, the clock and the UART pins of each supported board, and the LinkTop for a network.

Pins are those of amaranth-boards' platform files (icebreaker.py: clk12 on 35, uart rx 6 and tx 9; ulx3s.py: clk25 on
G2, uart rx M1 and tx L4). Both boards reach the host through an FTDI USB UART; the baud is one that the FTDI chip
makes exactly and the board clock divides exactly.

Why these are not amaranth-boards platforms (ICEBreakerPlatform, ULX3S_85F_Platform): a platform brings its pins
and clocks together with its own build, `platform.build()`, one Yosys script and one nextpnr run. `mam build`
(fpga/build.py) synthesizes with the project's own scripts, the ones `mam synth` and the area model's calibration
use, so that their figures agree, and places and routes seed after seed until timing closes, reading each seed's
timing report; the top it builds needs no more of a board than one clock pin and two UART pins. Taking only the
resource tables from amaranth-boards would add a dependency (it is not installed) for these six pin names. Like its
table, fpga/build.py pulls the iCEBreaker's rx up (``set_io -pullup yes``), which keeps rx idle-high while the FTDI
does not drive it.
"""

from dataclasses import dataclass

from ..golden import ContractError

__all__ = ["Board", "BOARDS", "get_board", "uart_divisor", "build_link_top"]

# An 8N1 frame tolerates ~4% total clock mismatch; half of it for our rounding leaves the rest to the host.
MAX_BAUD_ERROR = 0.02
# Cycles without a byte that abandon a frame, in seconds: far above USB scheduling gaps, far below a host timeout.
LINK_TIMEOUT_S = 0.01


@dataclass(frozen=True)
class Board:
    name: str
    target: str                 # a key of fpga/targets.py TARGETS
    clk_hz: int                 # the board oscillator
    clk_pin: str
    rx_pin: str                 # FPGA input, from the FTDI's TXD
    tx_pin: str                 # FPGA output, to the FTDI's RXD
    baud: int
    platform: str               # amaranth-boards platform class
    uart: str                   # the USB UART chip, for messages
    engine_mhz: float = 24.0    # `mam build`'s default engine clock: closes timing for the engines we measured

    def divisor(self, clk_hz=None):
        """Clock cycles per UART bit at `clk_hz` (default: the board oscillator)."""
        return uart_divisor(self.clk_hz if clk_hz is None else clk_hz, self.baud)

    def link_top(self, network, pes, clk_hz=None, **options):
        """The LinkTop of `network` on `pes` PEs for this board, clocked at `clk_hz` (default: the oscillator);
        `options`: the engine's build options."""
        clk_hz = self.clk_hz if clk_hz is None else clk_hz
        return build_link_top(network, pes, divisor=self.divisor(clk_hz),
                              timeout=max(int(clk_hz * LINK_TIMEOUT_S), 1), **options)


BOARDS = {
    # iCEBreaker: FT2232H channel B; 12 MHz / 3 Mbaud = 4 cycles per bit, exact.
    "icebreaker": Board("icebreaker", "up5k", clk_hz=12_000_000, clk_pin="35", rx_pin="6", tx_pin="9",
                        baud=3_000_000, platform="ICEBreakerPlatform", uart="FT2232H", engine_mhz=24.0),
    # ULX3S: FT231X (3 Mbaud at most, exact rates 3 MHz / n); 25 MHz / 1 Mbaud = 25, exact, where 3 Mbaud
    # would be 8.33 cycles per bit (4% off).
    "ulx3s-85f": Board("ulx3s-85f", "ecp5-85f", clk_hz=25_000_000, clk_pin="G2", rx_pin="M1", tx_pin="L4",
                       baud=1_000_000, platform="ULX3S_85F_Platform", uart="FT231X", engine_mhz=50.0),
}


def get_board(name):
    if name not in BOARDS:
        raise ContractError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]


def uart_divisor(clk_hz, baud):
    """Cycles per bit for `baud` at `clk_hz`, refused when rounding is off by more than MAX_BAUD_ERROR."""
    from ..hw.uart import MIN_DIVISOR
    divisor = round(clk_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ContractError(f"{baud} baud needs at least {MIN_DIVISOR * baud / 1e6:g} MHz, clock is "
                            f"{clk_hz / 1e6:g} MHz")
    error = abs(clk_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ContractError(f"{baud} baud at {clk_hz / 1e6:g} MHz is {100 * error:.1f}% off "
                            f"({clk_hz / baud:.2f} cycles per bit); choose a clock that {baud} divides")
    return divisor


def build_link_top(network, pes, *, divisor, timeout, options=None, engine="row", window=None, **changes):
    """A LinkTop (hw/top.py) for a golden Network on `pes` PEs of `engine` (with `window`: hw/specs.build_engine),
    its design id baked in; `options` (and `changes`): the engine's build options (hw/options.py,
    fpga/structure.engine_options; the window engine takes only the DSP primitive)."""
    from ..hw.options import EngineOptions
    from ..hw.top import LinkTop
    from ..hw.engines import build_window_engine
    from ..hw.specs import layer_specs
    from .design_id import design_id
    options = EngineOptions.of(options, **changes)
    ident = design_id(network, pes, engine, window, options.delta_bits)
    if engine == "window":
        built, _ = build_window_engine(network, pes, window, dsp=options.dsp)
        return LinkTop(divisor=divisor, timeout=timeout, design_id=ident, engine=built, pes=pes)
    specs, _ = layer_specs(network, pes, options.delta_bits)
    return LinkTop(specs, divisor=divisor, timeout=timeout, design_id=ident, options=options)
