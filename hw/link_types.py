"""What the host link's three parts pass each other (hw/hostlink.py): the protocol's codes as Amaranth enums, one
checked request (receiver -> executor), and the bytes of a reply (executor -> sender)."""

import types

from amaranth.lib import crc, data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol

__all__ = ["CHECK_PARAMETERS", "Command", "Status", "Request", "FrameByte", "RequestPort", "ReplyPort"]


def _hw_enum(plain, shape):
    """An Amaranth enum with `shape` whose members are those of the plain protocol enum `plain`."""
    return types.new_class(plain.__name__, (enum.Enum,), {"shape": shape},
                           lambda ns: ns.update({member.name: member.value for member in plain}))


# The frame check in the gateware: the catalog entry the protocol names, for amaranth.lib.crc.Processor.
CHECK_PARAMETERS = getattr(crc.catalog, protocol.CHECK.name)(data_width=8)

Command = _hw_enum(protocol.Command, 8)
Status = _hw_enum(protocol.Status, 4)

# One request as the receiver checked it: its CODE and TAG as received (the reply carries them back), the status it
# earned (OK: the executor carries it out; anything else: it only replies), and LOAD_WEIGHTS's header.
Request = data.StructLayout({"code": 8, "tag": 8, "status": Status, "pe": 8, "addr": 16, "count": 8})

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
