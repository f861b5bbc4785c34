"""The order of one clock cycle: which values differ between lanes, the evaluation order of the combinational
values, and the order of the statements of a tick (reads before the writes and register updates they must see)."""

from .cells import COMB, ff_next, mem_read, mem_write, pick, sync_read
from .netlist import Unsupported

__all__ = ["express", "find_varying", "topo", "cone", "tick_body"]


def express(g, design):
    """Every value's expression and the vars it reads (the expressions depend on which values vary)."""
    for var, cell in design.cells:
        table = design.tables.get(var)
        if table is not None:
            index, reads = g.sig(table.index)
            var.code, var.reads = f"mread_f({table.name}, {index})", reads
        elif var in design.picks and not g.vec(g.reads(design.picks[var].index)):   # (an index per lane: jumps)
            var.code, var.reads = pick(g, cell, design.picks[var])
        else:
            var.code, var.reads = COMB[cell["type"]](g, cell)
    for mem in design.mems:
        for port in mem["rd"]:
            if not port["sync"]:
                port["var"].code, port["var"].reads = mem_read(g, mem, port["addr"])
    for var, cell in design.ffs:
        var.code, var.reads = ff_next(g, var, cell)


def find_varying(g, design):
    """Mark every value that can differ between lanes: a fixed point over the netlist."""
    if not design.lane_inputs:
        return
    for mem in design.mems:
        ports = [p["addr"] for p in mem["wr"]] + [p["en"] for p in mem["wr"]] + [p["data"] for p in mem["wr"]]
        mem["writes_read"] = set().union(*(g.sig(b)[1] for b in ports)) if ports else set()
        for port in mem["rd"]:
            bits = [port["addr"], port["en"], port["srst"]]
            port["reads"] = set().union(*(g.sig(b)[1] for b in bits))
    changed = True
    while changed:
        changed = False
        for mem in design.mems:
            if not mem["vary"] and g.vec(mem["writes_read"]):
                mem["vary"] = changed = True
            for port in mem["rd"]:
                v = port["var"]
                if not v.vary and (mem["vary"] or g.vec(port["reads"])):
                    v.vary = changed = True
        for v in design.comb + [v for v, _ in design.ffs]:
            if not v.vary and v.kind != "rd" and g.vec(v.reads):
                v.vary = changed = True


def _by_name(v):
    return v.name               # a deterministic order, so the same design gives the same code


def _after_preds(roots, preds, loop):
    """The nodes reached from `roots` (in their order) through `preds`, each after every node in `preds(node)`:
    a depth-first post-order, without recursion (a netlist's paths are long). A node met again on its own path
    is a loop: Unsupported(loop(node))."""
    order, state = [], {}               # state: 1 while on the path, 2 once placed
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(preds(root)))]
        while stack:
            node, it = stack[-1]
            dep = next(it, None)
            if dep is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif state.get(dep) == 1:
                raise Unsupported(loop(dep))
            elif dep not in state:
                state[dep] = 1
                stack.append((dep, iter(preds(dep))))
    return order


def topo(comb):
    """Combinational vars in an order where each comes after the vars it reads."""
    return _after_preds(comb, lambda var: sorted((v for v in var.reads if v.kind == "comb"), key=_by_name),
                        lambda var: f"combinational loop through {var.label}")


def update_order(nodes):
    """Groups of state vars to update in place: a var is written only after every var whose next value reads it.
    Vars on a cycle of such reads come as one group (updated through temporaries)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    succ = {v: sorted((r for r in v.reads if r in nodes and r is not v), key=_by_name) for v in nodes}
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)

    for root in sorted(nodes, key=_by_name):
        if root in index:
            continue
        visit(root)
        work = [(root, iter(succ[root]))]
        while work:                     # Tarjan's strongly connected components, iteratively
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    visit(w)
                    work.append((w, iter(succ[w])))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w is v:
                        break
                groups.append(group)
    # A group comes out after every group it reads; the readers must be updated first.
    return list(reversed(groups))


def cone(comb, reads):
    """The combinational vars (in evaluation order `comb`) that a signal reading `reads` depends on."""
    need, todo = set(), [v for v in reads if v.kind == "comb"]
    while todo:
        v = todo.pop()
        if v not in need:
            need.add(v)
            todo.extend(r for r in v.reads if r.kind == "comb")
    return [v for v in comb if v in need]


def tick_body(g, design, state, ind):
    """One clock edge. Everything reads the values from before the edge: combinational values, synchronous reads
    (into temporaries) and memory writes come before the update of any register they read, and each register is
    updated in place once everything reading its old value is done. Within those rules each value is computed
    just before its first use, so few values live long (fewer spills)."""
    items = {}                  # key -> [code, predecessor keys]
    readers = {}                # state var -> keys of items that read its value from before the edge

    def add(key, code, reads, extra=()):
        preds = [("c", v) for v in sorted(reads, key=_by_name) if v.kind == "comb"]
        items[key] = [code, preds + list(extra)]
        for v in reads:
            if v.kind in ("ff", "rd"):
                readers.setdefault(v, []).append(key)

    for v in design.comb:
        add(("c", v), f"{ind}const {g.ctype(v)} {v.name} = {v.code};   // {v.label}\n", v.reads)
    for m, mem in enumerate(design.mems):
        reads_of_mem = []       # a memory's writes come after every read of it
        for port in mem["rd"]:
            if port["sync"]:
                code, reads = sync_read(g, mem, port, ind)
                add(("r", port["var"]), code, reads)
                reads_of_mem.append(("r", port["var"]))
            else:
                reads_of_mem.append(("c", port["var"]))
        for j, port in enumerate(mem["wr"]):
            code, reads = mem_write(g, mem, port, ind)
            add(("w", m, j), code, reads, reads_of_mem)
    groups = update_order(set(state))
    owner = {}
    for group in groups:
        for v in group:
            if v.kind == "rd":
                v.code, v.reads = f"n_{v.name}", set()
        key = ("u", group[0])
        if len(group) == 1:
            v = group[0]
            code = f"{ind}{v.name} = {v.code};\n" if v.code != v.name else ""
        else:
            code = "".join(f"{ind}const {g.ctype(v)} t_{v.name} = {v.code};\n" for v in group)
            code += "".join(f"{ind}{v.name} = t_{v.name};\n" for v in group)
        reads = set().union(*(v.reads for v in group)) - set(group)
        add(key, code, reads, [("r", v) for v in group if v.kind == "rd"])
        for v in group:
            owner[v] = key
    for v, keys in readers.items():     # every reader of a register's old value comes before its update
        items[owner[v]][1] += [k for k in keys if k != owner[v]]
    # The updates, then every read and write (a value no state or memory needs is left out), each after its
    # predecessors.
    roots = [("u", group[0]) for group in groups] + [key for key in items if key[0] != "c"]
    order = _after_preds(roots, lambda key: items[key][1], lambda _: "no order for the register updates")
    return "".join(items[key][0] for key in order)
