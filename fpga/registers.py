"""Register bits that survive synthesis, counted on the bit-level netlist of Amaranth's RTLIL (no tool run).

Amaranth declares more register bits than Yosys keeps: a pipeline carries whole entry words of which later stages
read only a few fields (Yosys drops the unread bits), the two halves of a fold keep twin copies of the same valid
and row-end bits (Yosys merges registers with equal inputs), and some bits hold a constant. The area model fits
flip-flops on the bits that remain after the rules below (fpga/area_model.py's ``pe_live_dff``).

The rules, as Yosys's ``opt_clean``, ``opt_merge`` and ``opt_dff`` apply them:

- a bit is kept only if something the design drives out (a port, a memory write) depends on it, followed bit by
  bit through registers, bitwise logic, multiplexers, shifts by a constant and assignments, and whole-word through
  everything else;
- a bit whose next value is a constant equal to its initial value, or that only ever loads that constant or holds
  (a per-layer configuration bit that is 0 in every layer), is a constant, and so are the product and sum bits it
  leaves as sign copies;
- bits with the same next value, initial value, clock and reset are one register (to a fixed point, so chains of
  twins merge all along); an adder's or multiplier's output bits above the width its operands can reach count as
  copies of its sign bit (Yosys's ``wreduce``).

What it does not see: registers Yosys narrows by the values they can hold, and registers packed into DSPs. It
reads the RTLIL text of the public ``amaranth.back.rtlil.convert`` (:mod:`.rtlil_netlist` flattens it into bits), as
Amaranth 0.5 writes it (pyproject.toml pins ``amaranth>=0.5,<0.6``).
"""

from amaranth.back import rtlil
from amaranth.hdl import Const, Elaboratable
from amaranth.lib import wiring

from .rtlil_netlist import read_rtlil

__all__ = ["live_register_bits", "count_live_registers", "component_ports", "component_rtlil"]


def component_ports(component):
    """The ports ``rtlil.convert`` makes of a component's signature, {name: (signal, flow)} (flow ``wiring.In``
    or ``wiring.Out``), less the members that are constants (a stream's ``ready`` when it is always ready): a top
    level cannot have those as ports."""
    ports = {}
    for path, member, value in component.signature.flatten(component):
        value = value.as_value() if hasattr(value, "as_value") else value
        if isinstance(value, Const):
            continue
        ports["__".join(map(str, path))] = (value, member.flow)
    return ports


class _Ports(Elaboratable):
    """`component` behind a flat signature of its :func:`component_ports`: what ``rtlil.convert`` makes the top
    level's ports of (it elaborates to the component itself)."""

    def __init__(self, component):
        ports = component_ports(component)
        self.signature = wiring.Signature({name: wiring.Member(flow, value.shape())
                                           for name, (value, flow) in ports.items()})
        self._component = component
        for name, (value, _flow) in ports.items():
            if hasattr(self, name):
                raise ValueError(f"port {name!r} of {component!r} has the name of an attribute")
            setattr(self, name, value)

    def elaborate(self, platform):
        return self._component


def component_rtlil(component, name="top"):
    """RTLIL text of `component`, its top level's ports those of :func:`component_ports`."""
    return rtlil.convert(_Ports(component), name=name)


# Cells whose output bit i depends on bit i of these inputs only (a multiplexer's also on its select).
_BITWISE = {"$not": ("A",), "$and": ("A", "B"), "$or": ("A", "B"), "$xor": ("A", "B"), "$mux": ("A", "B")}
_SHIFTS = {"$shl": "<<", "$shr": "u>>", "$sshr": "s>>"}
_ARITH = ("$add", "$sub", "$mul", "$neg")
_FLOPS = ("$dff", "$adff")


def _operand(cell, port):
    """An operand of an operator as wide as its output: Amaranth's RTLIL writes operands without their sign or
    zero extension, which the operator's own netlist has (and the sign-copy rule reads)."""
    nets = list(cell.inputs[port])
    width = cell.params["Y_WIDTH"]
    signed = cell.params.get(port + "_SIGNED", 0)
    while len(nets) < width:
        nets.append(nets[-1] if signed and nets else 0)
    return nets


def _const_shift(cell):
    """The amount of a shift by a constant (wiring once Yosys has run), else None."""
    if cell.kind not in _SHIFTS:
        return None
    amount = cell.inputs["B"]
    if not all(n < 2 for n in amount):
        return None
    return sum(n << i for i, n in enumerate(amount))


def _drivers(cell):
    """For each output net of `cell`: the nets it depends on."""
    kind, ins = cell.kind, cell.inputs
    if kind in _FLOPS:
        clk, arst = ins["CLK"][0], ins["ARST"][0] if "ARST" in ins else 0
        return {q: (d, clk, arst) for q, d in zip(cell.outputs["Q"], ins["D"])}
    shift = _const_shift(cell)
    if shift is not None:
        a, op = _operand(cell, "A"), _SHIFTS[kind]
        src = [i - shift for i in range(len(a))] if op == "<<" else \
            [min(i + shift, len(a) - 1) if op == "s>>" else i + shift for i in range(len(a))]
        return {y: ((a[j],) if 0 <= j < len(a) else ()) for y, j in zip(cell.outputs["Y"], src)}
    if kind in _BITWISE:
        bitwise = [ins[p] for p in _BITWISE[kind]]
        common = tuple(ins["S"]) if kind == "$mux" else ()
        return {y: common + tuple(v[i] for v in bitwise) for i, y in enumerate(cell.outputs["Y"])}
    every = tuple(cell.input_nets())
    return {n: every for nets in cell.outputs.values() for n in nets}


def _signed_width(value):
    """Bits of `value` below its sign extension: its top bits repeat one net (a sign bit or a constant 0)."""
    k = len(value)
    while k > 1 and value[k - 2] == value[k - 1]:
        k -= 1
    return k


_SELF = "self"                  # a register's own output, in its next value


def _aliases(kind, operands, outs, resolve):
    """Output bits of an adder or multiplier above the width its operands can reach: copies of the sign bit
    (Yosys's ``wreduce`` cuts them, and registers of them merge). `resolve` maps an input net to what it is known
    to be (a register found constant is that constant)."""
    values = [[resolve(n) for n in v] for v in operands]
    widths = [_signed_width(v) for v in values]
    # A product of signed a- and b-bit values needs a + b bits only for (-2^(a-1)) * (-2^(b-1)); with an operand
    # that is never negative (its sign bit a constant 0), a + b - 1.
    never_negative = any(v[w - 1] == 0 for v, w in zip(values, widths))
    reach = sum(widths) - never_negative if kind == "$mul" else max(widths) + 1
    return {outs[i]: outs[reach - 1] for i in range(reach, len(outs))}


def live_register_bits(component, input_classes=None):
    """The register bits of `component` that Yosys keeps after dropping unread, constant and twin bits.

    `input_classes`: what the design around `component` guarantees of its input ports, {port name: one key per
    bit}: bits with equal keys are always equal, and key 0 means always 0."""
    return count_live_registers(read_rtlil(component_rtlil(component)), input_classes)


def count_live_registers(nl, input_classes=None):
    """:func:`live_register_bits` of a netlist read by :func:`.rtlil_netlist.read_rtlil`. Nets are ints: 0 and 1
    the constants, negative ones conditions, the others bits of the design."""
    fixed, first = {}, {}                                   # input bits known to be 0, or equal to another's
    for name, nets in nl.inputs.items():
        for net, key in zip(nets, (input_classes or {}).get(name, ())):
            same = 0 if key == 0 else first.setdefault(key, net)
            if same != net:
                fixed[net] = same
    deps, roots, flops, arith, procs = dict(nl.conditions), set(), [], [], {}
    for value in nl.outputs.values():
        roots.update(value)                                 # the output ports' values
    for cell in nl.cells:
        if cell.kind.startswith("$") and cell.kind not in _FLOPS and "dff" in cell.kind:
            raise ValueError(f"register cell {cell.kind} is not read")
        if not any(cell.outputs.values()):
            roots |= cell.input_nets()                      # memory writes, prints, properties
            continue
        if cell.kind in _FLOPS:
            flops.append(cell)
        elif cell.kind in _ARITH:
            ports = ("A",) if cell.kind == "$neg" else ("A", "B")
            arith.append((cell.kind, [_operand(cell, p) for p in ports], cell.outputs["Y"]))
        deps.update(_drivers(cell))
    for proc in nl.processes:
        if not proc.outputs:
            roots |= proc.input_nets()
            continue
        arms = {q: [] for q in proc.outputs}
        for cond, lhs, rhs in proc.assignments:
            for q, v in zip(lhs, rhs):
                arms[q].append((cond, v))                   # a bit outside the outputs: a KeyError, a bad process
        for q, d in zip(proc.outputs, proc.default):
            procs[q] = (d, tuple(arms[q]))
            deps[q] = (d,) + tuple(n for arm in arms[q] for n in arm)
    live, stack = set(), [n for n in roots if not 0 <= n <= 1]
    while stack:
        net = stack.pop()
        if net in live:
            continue
        live.add(net)
        stack.extend(n for n in deps.get(net, ()) if not 0 <= n <= 1 and n not in live)

    bits = []                                               # (output net, data net, init bit, clk, arst)
    for ff in flops:
        clk, arst = ff.inputs["CLK"][0], ff.inputs["ARST"][0] if "ARST" in ff.inputs else 0
        for q, d in zip(ff.outputs["Q"], ff.inputs["D"]):
            if q in live:
                bits.append((q, d, nl.init[q], clk, arst))
    # Twins: one representative per (next value, init, clock, reset), next values compared structurally through
    # the processes' assignments (a synchronous reset is one); repeat until the representatives settle.
    rep = dict(fixed)
    while True:
        memo, table, alias = {}, {}, {}
        for kind, operands, outs in arith:
            alias.update(_aliases(kind, operands, outs, lambda n: rep.get(n, n)))

        def resolve(net):
            """`net` as far as is known: a sign copy as its sign bit, a register as its representative."""
            net = alias.get(net, net)
            return rep.get(net, net)

        def canon(net):
            net = resolve(net)
            if net not in procs:
                return net
            if net not in memo:
                default, arms = procs[net]
                default = canon(default)
                arms = tuple((canon(cond), canon(value)) for cond, value in arms)
                if all(v == default for _, v in arms):
                    memo[net] = default                     # every arm gives the same value
                else:
                    memo[net] = table.setdefault((default, arms), net)
            return memo[net]

        def holds(net, q, init):
            """Every value `net` can take is the register's own (q) or the constant `init`."""
            net = resolve(net)
            if net == q or 0 <= net <= 1:
                return net == q or net == init
            if net not in procs:
                return False
            default, arms = procs[net]
            return holds(default, q, init) and all(holds(v, q, init) for _, v in arms)

        def next_value(net, q):
            """`net` as a register's next value: its assignments with the register's own output (q, an enable
            or a hold) as `_SELF`, so registers loaded with equal values under equal conditions compare equal."""
            net = resolve(net)
            if net == q:
                return _SELF
            if net not in procs:
                return canon(net)
            default, arms = procs[net]
            default = next_value(default, q)
            arms = tuple((canon(cond), next_value(value, q)) for cond, value in arms)
            return default if all(v == default for _, v in arms) else (default, arms)

        seen, new_rep = {}, dict(fixed)
        for q, d, init, clk, arst in bits:
            own = rep.get(q, q)
            if holds(d, own, init):
                new_rep[q] = init                           # a constant: it only ever loads its initial value
                continue
            new_rep[q] = seen.setdefault((next_value(d, own), init, clk, arst), q)
        if new_rep == rep:
            break
        rep = new_rep
    return len({rep[q] for q, *_ in bits if not 0 <= rep[q] <= 1})
