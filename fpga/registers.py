"""Register bits that survive synthesis, counted on Amaranth's own bit-level netlist (no tool run).

Amaranth declares more register bits than Yosys keeps: a pipeline carries whole entry words of which later stages
read only a few fields (Yosys drops the unread bits), the two halves of a fold keep twin copies of the same valid
and row-end bits (Yosys merges registers with equal inputs), and some bits hold a constant. The area model fits
flip-flops on the bits that remain after the rules below (fpga/area_model.py's ``pe_live_dff``).

The rules, as Yosys's ``opt_clean``, ``opt_merge`` and ``opt_dff`` apply them:

- a bit is kept only if something the design drives out (a port, a memory write) depends on it, followed bit by
  bit through registers and bitwise logic (:meth:`Cell.comb_edges_to`), and whole-word through everything else;
- a bit whose next value is a constant equal to its initial value, or that only ever loads that constant or holds
  (a per-layer configuration bit that is 0 in every layer), is a constant, and so are the product and sum bits it
  leaves as sign copies;
- bits with the same next value, initial value, clock and reset are one register (to a fixed point, so chains of
  twins merge all along); an adder's or multiplier's output bits above the width its operands can reach count as
  copies of its sign bit (Yosys's ``wreduce``).

What it does not see: registers Yosys narrows by the values they can hold, and registers packed into DSPs. It
reads Amaranth 0.5's internal netlist (``amaranth.hdl._nir``), which pyproject.toml's ``amaranth>=0.5,<0.6`` pins.
"""

from amaranth.hdl import _ir, _nir

__all__ = ["live_register_bits", "component_ports"]


def component_ports(component):
    """The ports ``rtlil.convert`` makes of a component's signature, {name: (signal, direction)}, less the members
    that are constants (a stream's ``ready`` when it is always ready): a top level cannot have those as ports."""
    from amaranth.hdl import Const
    from amaranth.lib import wiring
    ports = {}
    for path, member, value in component.signature.flatten(component):
        value = value.as_value() if hasattr(value, "as_value") else value
        if isinstance(value, Const):
            continue
        direction = _ir.PortDirection.Input if member.flow == wiring.In else _ir.PortDirection.Output
        ports["__".join(map(str, path))] = (value, direction)
    return ports


def _netlist(component):
    """Amaranth's netlist of `component`, its ports those of its signature (:func:`component_ports`)."""
    return _ir.build_netlist(_ir.Fragment.get(component, None), ports=component_ports(component), name="top")


def _const_shift(cell):
    """The amount of a shift by a constant (wiring once Yosys has run), else None."""
    if not (isinstance(cell, _nir.Operator) and cell.operator in ("<<", "u>>", "s>>")):
        return None
    amount = cell.inputs[1]
    if not all(n.is_const for n in amount):
        return None
    return sum(n.const << i for i, n in enumerate(amount))


def _drivers(cell, idx):
    """For each output net of `cell`: the nets it depends on."""
    if isinstance(cell, _nir.FlipFlop):
        return {_nir.Net.from_cell(idx, i): (d, cell.clk, cell.arst) for i, d in enumerate(cell.data)}
    shift = _const_shift(cell)
    if shift is not None:
        a = cell.inputs[0]
        src = [i - shift for i in range(len(a))] if cell.operator == "<<" else \
            [min(i + shift, len(a) - 1) if cell.operator == "s>>" else i + shift for i in range(len(a))]
        return {_nir.Net.from_cell(idx, i): ((a[j],) if 0 <= j < len(a) else ()) for i, j in enumerate(src)}
    outs = cell.output_nets(idx)
    if hasattr(cell, "comb_edges_to") and not isinstance(cell, (_nir.SyncReadPort, _nir.Instance)):
        try:
            return {net: tuple(n for n, _ in cell.comb_edges_to(net.bit)) for net in outs}
        except (NotImplementedError, AssertionError, TypeError):
            pass
    ins = tuple(cell.input_nets())
    return {net: ins for net in outs}


def _signed_width(value):
    """Bits of `value` below its sign extension: its top bits repeat one net (a sign bit or a constant 0)."""
    k = len(value)
    while k > 1 and value[k - 2] == value[k - 1]:
        k -= 1
    return k


_SELF = "self"                  # a register's own output, in its next value


def _arms(cell, bit):
    """(condition, value) of each assignment of an assignment list that sets `bit`, in order."""
    return [(a.cond, a.value[bit - a.start]) for a in cell.assignments if a.start <= bit < a.start + len(a.value)]


def _is_arith(cell):
    return isinstance(cell, _nir.Operator) and cell.operator in ("+", "-", "*")


def _aliases(cell, idx, resolve):
    """Output bits of an adder or multiplier above the width its operands can reach: copies of the sign bit
    (Yosys's ``wreduce`` cuts them, and registers of them merge). `resolve` maps an input net to what it is known
    to be (a register found constant is that constant)."""
    values = [[resolve(n) for n in v] for v in cell.inputs]
    widths = [_signed_width(v) for v in values]
    # A product of signed a- and b-bit values needs a + b bits only for (-2^(a-1)) * (-2^(b-1)); with an operand
    # that is never negative (its sign bit a constant 0), a + b - 1.
    never_negative = any(v[w - 1].is_const and v[w - 1].const == 0 for v, w in zip(values, widths))
    reach = sum(widths) - never_negative if cell.operator == "*" else max(widths) + 1
    sign = _nir.Net.from_cell(idx, reach - 1)
    return {_nir.Net.from_cell(idx, i): sign for i in range(reach, cell.width)}


def live_register_bits(component, input_classes=None):
    """The register bits of `component` that Yosys keeps after dropping unread, constant and twin bits.

    `input_classes`: what the design around `component` guarantees of its input ports, {port name: one key per
    bit}: bits with equal keys are always equal, and key 0 means always 0."""
    nl = _netlist(component)
    fixed, first = {}, {}                                   # input bits known to be 0, or equal to another's
    for name, (start, width) in nl.top.ports_i.items():
        for i, key in enumerate((input_classes or {}).get(name, ())):
            net = _nir.Net.from_cell(0, start + i)
            same = _nir.Net.from_const(0) if key == 0 else first.setdefault(key, net)
            if same != net:
                fixed[net] = same
    deps, roots, flops, arith = {}, set(), [], []
    for idx, cell in enumerate(nl.cells):
        if isinstance(cell, _nir.Top):
            roots |= cell.input_nets()                      # the output ports' values
            continue
        if isinstance(cell, _nir.FlipFlop):
            flops.append((idx, cell))
        if _is_arith(cell):
            arith.append((idx, cell))
        outs = cell.output_nets(idx)
        if outs:
            deps.update(_drivers(cell, idx))
        else:
            roots |= cell.input_nets()                      # memory writes, prints, properties
    live, stack = set(), [n for n in roots if n.is_cell]
    while stack:
        net = stack.pop()
        if net in live:
            continue
        live.add(net)
        stack.extend(n for n in deps.get(net, ()) if n.is_cell and n not in live)

    bits = []                                               # (output net, data net, init bit, clk, arst)
    for idx, ff in flops:
        for i, d in enumerate(ff.data):
            q = _nir.Net.from_cell(idx, i)
            if q in live:
                bits.append((q, d, (ff.init >> i) & 1, ff.clk, ff.arst))
    cells = nl.cells
    # Twins: one representative per (next value, init, clock, reset), next values compared structurally through
    # the processes' assignment lists (a synchronous reset is one); repeat until the representatives settle.
    rep = dict(fixed)
    while True:
        memo, table, alias = {}, {}, {}
        for idx, cell in arith:
            alias.update(_aliases(cell, idx, lambda n: rep.get(n, n)))

        def resolve(net):
            """`net` as far as is known: a sign copy as its sign bit, a register as its representative."""
            net = alias.get(net, net)
            return rep.get(net, net)

        def canon(net):
            net = resolve(net)
            if not net.is_cell or not isinstance(cells[net.cell], _nir.AssignmentList):
                return net
            if net not in memo:
                cell, bit = cells[net.cell], net.bit
                default = canon(cell.default[bit])
                arms = tuple((canon(cond), canon(value)) for cond, value in _arms(cell, bit))
                if all(v == default for _, v in arms):
                    memo[net] = default                     # every arm gives the same value
                else:
                    memo[net] = table.setdefault((default, arms), net)
            return memo[net]

        def holds(net, q, init):
            """Every value `net` can take is the register's own (q) or the constant `init`."""
            net = resolve(net)
            if net == q or net.is_const:
                return net == q or net.const == init
            cell = cells[net.cell] if net.is_cell else None
            if not isinstance(cell, _nir.AssignmentList):
                return False
            bit = net.bit
            return holds(cell.default[bit], q, init) and all(holds(v, q, init) for _, v in _arms(cell, bit))

        def next_value(net, q):
            """`net` as a register's next value: its assignment list with the register's own output (q, an enable
            or a hold) as `_SELF`, so registers loaded with equal values under equal conditions compare equal."""
            net = resolve(net)
            if net == q:
                return _SELF
            if not net.is_cell or not isinstance(cells[net.cell], _nir.AssignmentList):
                return canon(net)
            cell, bit = cells[net.cell], net.bit
            default = next_value(cell.default[bit], q)
            arms = tuple((canon(cond), next_value(value, q)) for cond, value in _arms(cell, bit))
            return default if all(v == default for _, v in arms) else (default, arms)

        seen, new_rep = {}, dict(fixed)
        for q, d, init, clk, arst in bits:
            own = rep.get(q, q)
            if holds(d, own, init):
                new_rep[q] = _nir.Net.from_const(init)      # a constant: it only ever loads its initial value
                continue
            new_rep[q] = seen.setdefault((next_value(d, own), init, clk, arst), q)
        if new_rep == rep:
            break
        rep = new_rep
    return len({rep[q] for q, *_ in bits if rep[q].is_cell})
