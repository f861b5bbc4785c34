"""What the host link's three parts pass each other (hw/hostlink.py): the protocol's codes as Amaranth enums, one
checked request (receiver -> executor), and the bytes of a reply (executor -> sender); and the frame check both
ends of the link build (SerialCheck)."""

import types

from amaranth.hdl import Module, Signal
from amaranth.lib import crc, data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol

__all__ = ["CHECK_PARAMETERS", "Command", "Status", "Request", "FrameByte", "RequestPort", "ReplyPort",
           "SerialCheck"]


def _hw_enum(plain, shape):
    """An Amaranth enum with `shape` whose members are those of the plain protocol enum `plain`."""
    return types.new_class(plain.__name__, (enum.Enum,), {"shape": shape},
                           lambda ns: ns.update({member.name: member.value for member in plain}))


# The frame check in the gateware: the catalog entry the protocol names, over 1-bit words (SerialCheck). For this
# reflected algorithm a byte's bits fed least significant first give the CRC of the bytes.
CHECK_PARAMETERS = getattr(crc.catalog, protocol.CHECK.name)(data_width=1)

Command = _hw_enum(protocol.Command, 8)
Status = _hw_enum(protocol.Status, 4)

# One request as the receiver checked it: its CODE and TAG as received (the reply carries them back), the status it
# earned (OK: the executor carries it out; anything else: it only replies), `does`: a flag per command, the one of
# CODE high only with OK (the receiver's decode of the code, so the executor's choices need no compare: its compare
# of CODE and STATUS was the ECP5 top level's longest path), and LOAD_WEIGHTS's header.
Request = data.StructLayout({"code": 8, "tag": 8, "status": Status,
                             "does": data.StructLayout({c.name.lower(): 1 for c in Command}),
                             "pe": 8, "addr": 16, "count": 8})

# A byte of a frame's content, `last` on its final byte.
FrameByte = data.StructLayout({"data": 8, "last": 1})


class RequestPort(wiring.Signature):
    """Receiver -> executor, as the receiver sees it: ``request``, one checked request per frame, which the executor
    takes (``ready``) when it is idle, so one waits there while another is carried out; and back ``staging_busy``,
    high while the executor copies the staging memories into the engine (the receiver must not write them then)."""

    def __init__(self):
        super().__init__({"request": Out(stream.Signature(Request)), "staging_busy": In(1)})

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


class ReplyPort(wiring.Signature):
    """Executor -> sender, as the executor sees it: ``content``, a reply's bytes (CODE | REPLY, TAG, STATUS, data),
    ``last`` on its final byte; the sender adds the check and the framing."""

    def __init__(self):
        super().__init__({"content": Out(stream.Signature(FrameByte))})

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


class SerialCheck(wiring.Component):
    """The frame check over bytes, one bit a cycle: a byte offered on ``valid`` while ``busy`` is low is folded over
    the next 8 cycles (``busy`` high); then ``crc`` is the check of the bytes so far and ``match_detected`` says
    whether they end in their own check. ``start`` with a byte: it begins a frame.

    Bit-serial (amaranth.lib.crc.Processor over 1-bit words) so that the register's loop is one LUT level: a byte
    at a time was three, the longest path of both top levels (UP5K 22.7 ns, ECP5 7.4 ns), and four times the logic.
    The link has the time: the UART brings or takes a byte every 10 * divisor >= 40 cycles.

    Folding the complement of ``crc``'s low byte shifts the register by 8 bits without feedback, so ``crc``'s next
    byte is then its low byte: the sender sends the check that way, without a copy of it."""

    data: In(8)
    valid: In(1)
    start: In(1)
    busy: Out(1)
    crc: Out(8 * protocol.CHECK_BYTES)
    match_detected: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = proc = CHECK_PARAMETERS.create()
        bits = Signal(8)                        # the byte's bits still to fold, the next in bit 0
        left = Signal(range(8))                 # bits after the one being folded
        first = Signal()                        # the bit being folded begins a frame
        m.d.comb += [proc.data.eq(bits[0]), proc.valid.eq(self.busy), proc.start.eq(first),
                     self.crc.eq(proc.crc), self.match_detected.eq(proc.match_detected)]
        with m.If(self.busy):
            m.d.sync += [bits.eq(bits >> 1), left.eq(left - 1), first.eq(0)]
            with m.If(left == 0):
                m.d.sync += self.busy.eq(0)
        with m.Else():
            # Idle, the byte is taken whatever `valid` says, and only `busy` and `first` wait for it: `valid` is
            # the end of a handshake, and as the enable of the byte's register it made the UP5K top level's longest
            # path (7.6 ns of routing to the eight enables). `first` alone restarts the register: high only with busy.
            m.d.sync += [bits.eq(self.data), left.eq(7), first.eq(self.start & self.valid), self.busy.eq(self.valid)]
        return m
