"""A bit-level netlist read from the RTLIL text Amaranth 0.5 writes (``amaranth.back.rtlil.convert``), flattened.

Every bit is a net, an int: 0 and 1 are the constants, 2 and up the bits of the design's wires, each named by the
one bit that drives it (a connection or a submodule port makes a wire bit stand for another). The design is what
Amaranth writes:

- cells: operators (``$add``, ``$mux``, ...), flip-flops (``$dff``, ``$adff``, the initial value in the ``init``
  attribute of the wire they drive), memories (``$memrd_v2``, ``$memwr_v2``, ``$meminit_v2``) and instances of
  primitives. A port connected to a whole wire is an output (Amaranth gives every cell output a wire of its own);
  any other is an input;
- processes: one per assigned value, its first assignment the default of every bit, then assignments under
  conditions, nested ``switch``/``case`` blocks (an ``If``/``Elif``/``Else`` or a ``Switch``). A condition is a
  negative int: one per case of a switch, keyed by the condition around it, the bits tested and every case's
  patterns (what Amaranth keys its own match cells by, less their place in the source);
- submodules: one RTLIL module each, instantiated by a cell of the module's name; flattened here, their ports
  joined to the nets they are connected to.
"""

__all__ = ["Netlist", "Cell", "Process", "read_rtlil"]


class Cell:
    """A cell: `kind` ("$add", "\\SB_MAC16"), `params` {name: int or raw text}, `inputs` and `outputs`
    {port name: tuple of nets, least significant bit first}."""

    __slots__ = ("kind", "params", "inputs", "outputs")

    def __init__(self, kind, params, inputs, outputs):
        self.kind, self.params, self.inputs, self.outputs = kind, params, inputs, outputs

    def input_nets(self):
        return {n for nets in self.inputs.values() for n in nets}

    def __repr__(self):
        return f"Cell({self.kind}, {self.inputs}, {self.outputs})"


class Process:
    """An assigned value: `outputs` (its nets), `default` (their values unless an assignment applies) and
    `assignments`, in order, each (condition, output nets assigned, their values); the last that applies wins."""

    __slots__ = ("outputs", "default", "assignments")

    def __init__(self, outputs, default, assignments):
        self.outputs, self.default, self.assignments = outputs, default, assignments

    def input_nets(self):
        nets = set(self.default)
        for cond, _lhs, rhs in self.assignments:
            nets.add(cond)
            nets.update(rhs)
        return nets


class Netlist:
    """`inputs` and `outputs`: the top module's ports, {name: nets}, in port order; `cells`, `processes`;
    `conditions`: {condition: the nets it is computed from (the condition around it, the bits its switch tests)};
    `init`: {net: initial value} of the bits of wires that carry one (flip-flop outputs)."""

    def __init__(self):
        self.inputs, self.outputs, self.cells, self.processes = {}, {}, [], []
        self.conditions, self.init = {}, {}


# -- reading the text -------------------------------------------------------------------------------------------

class _Module:
    __slots__ = ("name", "wires", "cells", "processes", "connects")

    def __init__(self, name):
        self.name = name
        self.wires = {}             # name: (width, port kind or None, port id, init text or None)
        self.cells = []             # (kind, params, [(port, tokens)])
        self.processes = []         # contents: [("assign", lhs, rhs) | ("switch", tokens, [(patterns, contents)])]
        self.connects = []          # tokens of the two sides


def _parse(text):
    """{name: _Module} of the RTLIL text, and the top module's name."""
    modules, top, attrs = {}, None, {}
    module = cell = None
    frames = []                     # inside a process: ("proc" | "case", contents) and ("switch", switch)
    for line in text.splitlines():
        t = line.split()
        if not t:
            continue
        kw = t[0]
        if frames:
            if kw == "assign":
                i = _sigspec_end(t, 1)
                frames[-1][1].append(("assign", t[1:i], t[i:]))
            elif kw == "switch":
                sw = ("switch", t[1:], [])
                frames[-1][1].append(sw)
                frames.append(("switch", sw))
            elif kw == "case":
                if frames[-1][0] == "case":
                    frames.pop()
                contents = []
                frames[-1][1][2].append((" ".join(t[1:]) if len(t) > 1 else None, contents))
                frames.append(("case", contents))
            elif kw == "end":
                if frames[-1][0] == "case":
                    frames.pop()
                frames.pop()
            else:
                raise ValueError(f"RTLIL process statement not understood: {line.strip()!r}")
        elif cell is not None:
            if kw == "connect":
                cell[2].append((t[1][1:], t[2:]))
            elif kw == "parameter":
                name = t[2] if t[1] in ("signed", "real") else t[1]
                value = line.split(name, 1)[1].strip()
                cell[1][name[1:]] = _param(value)
            elif kw == "end":
                module.cells.append(cell)
                cell = None
            else:
                raise ValueError(f"RTLIL cell statement not understood: {line.strip()!r}")
        elif kw == "attribute":
            attrs[t[1]] = line.split(None, 2)[2]
        elif kw == "module":
            module = modules[t[1]] = _Module(t[1])
            if attrs.get("\\top") == "1":
                top = t[1]
            attrs = {}
        elif kw == "wire":
            port = t[3] if len(t) > 4 and t[3] in ("input", "output", "inout") else None
            module.wires[t[-1]] = (int(t[2]), port, int(t[4]) if port else None, attrs.get("\\init"))
            attrs = {}
        elif kw == "cell":
            cell = (t[1], {}, [])
            attrs = {}
        elif kw == "process":
            contents = []
            module.processes.append(contents)
            frames.append(("proc", contents))
            attrs = {}
        elif kw == "connect":
            i = _sigspec_end(t, 1)
            module.connects.append((t[1:i], t[i:]))
        elif kw == "memory":
            attrs = {}
        elif kw == "end":
            module = None
        else:
            raise ValueError(f"RTLIL statement not understood: {line.strip()!r}")
    if top is None:
        raise ValueError("RTLIL text without a top module")
    return modules, top


def _param(value):
    """A parameter's value: an int for a number or a constant of 0s and 1s, else its text."""
    if value.lstrip("-").isdigit():
        return int(value)
    width, sep, bits = value.partition("'")
    if sep and width.isdigit() and bits and set(bits) <= {"0", "1"}:
        return int(bits, 2)
    return value


def _sigspec_end(tokens, i):
    """The index of the token after the sigspec that starts at tokens[i]."""
    t = tokens[i]
    if t == "{":
        depth = 0
        while True:
            if tokens[i] == "{":
                depth += 1
            elif tokens[i] == "}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    if t[0] in "\\$" and i + 1 < len(tokens) and tokens[i + 1][0] == "[":
        return i + 2
    return i + 1


# -- flattening -------------------------------------------------------------------------------------------------

class _Flattener:
    def __init__(self, modules):
        self.modules = modules
        self.alias = [0, 1]         # net -> the net it stands for (itself when it is driven)
        self.instances = []         # (module, {wire name: first net})

    def instantiate(self, name):
        """Nets for every wire of module `name` and of its submodules; returns {wire name: first net}."""
        module = self.modules[name]
        wires = {}
        for wire, (width, *_rest) in module.wires.items():
            wires[wire] = base = len(self.alias)
            self.alias.extend(range(base, base + width))
        self.instances.append((module, wires))
        for kind, _params, conns in module.cells:
            if kind not in self.modules:
                continue
            child = self.modules[kind]
            child_wires = self.instantiate(kind)
            for port, tokens in conns:
                width, direction, _pid, _init = child.wires["\\" + port]
                inner = range(child_wires["\\" + port], child_wires["\\" + port] + width)
                outer = self.nets(module, wires, tokens)
                if len(outer) != width:
                    raise ValueError(f"port {port} of {kind}: {len(outer)} bits for {width}")
                if direction == "input":
                    for a, b in zip(inner, outer):
                        self.join(a, b)
                elif direction == "output":
                    for a, b in zip(outer, inner):
                        self.join(a, b)
                else:
                    raise ValueError(f"port {port} of {kind}: {direction} ports are not read")
        for lhs, rhs in module.connects:
            lhs, rhs = self.nets(module, wires, lhs), self.nets(module, wires, rhs)
            if len(lhs) != len(rhs):
                raise ValueError(f"connect of {len(rhs)} bits to {len(lhs)} in {name}")
            for a, b in zip(lhs, rhs):
                self.join(a, b)
        return wires

    def join(self, net, driver):
        """`net` stands for `driver` from now on."""
        if net < 2 or self.alias[net] != net:
            raise ValueError("a bit of the RTLIL text is driven twice")
        self.alias[net] = driver

    def find(self, net):
        alias = self.alias
        root, steps = net, 0
        while alias[root] != root:
            root = alias[root]
            steps += 1
            if steps > len(alias):
                raise ValueError("the RTLIL text connects a bit to itself")
        while alias[net] != root:
            alias[net], net = root, alias[net]
        return root

    @staticmethod
    def nets(module, wires, tokens):
        """The nets of a sigspec (as tokens), least significant first, before :meth:`find`."""
        out = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            i += 1
            if t in ("{", "}"):
                continue            # chunks of a concatenation are written most significant first
            if t[0].isdigit():
                width, _, bits = t.partition("'")
                if len(bits) != int(width) or not set(bits) <= {"0", "1"}:
                    raise ValueError(f"constant {t!r} in a sigspec is not read")
                chunk = [int(b) for b in reversed(bits)]
            else:
                base = wires[t]
                if i < len(tokens) and tokens[i][0] == "[":
                    hi, _, lo = tokens[i][1:-1].partition(":")
                    i += 1
                    lo = int(lo or hi)
                    chunk = list(range(base + lo, base + int(hi) + 1))
                else:
                    chunk = list(range(base, base + module.wires[t][0]))
            out.append(chunk)
        if tokens and tokens[0] == "{":
            out.reverse()
        return [n for chunk in out for n in chunk]


def read_rtlil(text):
    """The :class:`Netlist` of RTLIL text written by ``amaranth.back.rtlil.convert``."""
    modules, top = _parse(text)
    flat = _Flattener(modules)
    top_wires = flat.instantiate(top)
    find = flat.find
    nl = Netlist()

    def nets(module, wires, tokens):
        return tuple(find(n) for n in flat.nets(module, wires, tokens))

    ports = sorted((pid, name, width, port) for name, (width, port, pid, _init) in modules[top].wires.items() if port)
    for _pid, name, width, port in ports:
        value = tuple(find(n) for n in range(top_wires[name], top_wires[name] + width))
        if port == "input":
            nl.inputs[name[1:]] = value
        elif port == "output":
            nl.outputs[name[1:]] = value
        else:
            raise ValueError(f"{port} port {name} is not read")

    conds = {}
    for module, wires in flat.instances:
        for wire, (width, _port, _pid, init) in module.wires.items():
            if init is not None:
                bits = init.partition("'")[2][::-1]
                for i, b in enumerate(bits[:width]):
                    if b in "01":
                        nl.init[find(wires[wire] + i)] = int(b)
        for kind, params, conns in module.cells:
            if kind in modules:
                continue
            inputs, outputs = {}, {}
            for port, tokens in conns:
                whole = len(tokens) == 1 and tokens[0][0] in "\\$"
                (outputs if whole else inputs)[port] = nets(module, wires, tokens)
            nl.cells.append(Cell(kind, params, inputs, outputs))
        for contents in module.processes:
            if not contents or contents[0][0] != "assign":
                raise ValueError("an RTLIL process that does not start with its default is not read")
            _, lhs, rhs = contents[0]
            proc = Process(nets(module, wires, lhs), nets(module, wires, rhs), [])
            _walk(contents[1:], 1, proc, module, wires, nets, conds, nl.conditions)
            nl.processes.append(proc)
    return nl


def _walk(contents, cond, proc, module, wires, nets, conds, deps):
    """Adds the assignments of a process's `contents`, under condition `cond`, to `proc`."""
    for item in contents:
        if item[0] == "assign":
            lhs, rhs = nets(module, wires, item[1]), nets(module, wires, item[2])
            if len(lhs) != len(rhs):
                raise ValueError(f"assignment of {len(rhs)} bits to {len(lhs)}")
            proc.assignments.append((cond, lhs, rhs))
            continue
        _, sel, cases = item
        if sel == ["{}"]:
            # Not a switch: Amaranth's way of going on with the enclosing case after a nested switch.
            for _patterns, sub in cases:
                _walk(sub, cond, proc, module, wires, nets, conds, deps)
            continue
        test = nets(module, wires, sel)
        patterns = tuple(p for p, _sub in cases)
        for k, (_p, sub) in enumerate(cases):
            key = (cond, test, patterns, k)
            if key not in conds:
                conds[key] = sub_cond = -1 - len(conds)
                tested = any(p is not None for p in patterns[:k + 1])
                deps[sub_cond] = (cond,) + (test if tested else ())
            _walk(sub, conds[key], proc, module, wires, nets, conds, deps)
