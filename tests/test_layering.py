"""Data flows one way: plumbing -> golden -> hw -> sim | fpga -> the CLI, and training/import (model) beside hw.

Every import of the package (module level or inside a function) is read from the syntax trees, so an import that
runs back up the chain, or a cycle between two modules, fails here. Run as a script, it prints the graph between the
package's parts and any module cycles:

    python -m tests.test_layering
"""

import ast
import os
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Folder of the work tree -> the part of the package it is (mamhw.golden lives in golden/, and so on).
PARTS = {"golden": "golden", "hw": "hw", "sim": "sim", "fpga": "fpga", "model": "model", "mamhw": "cli"}

# What each part may import, besides itself. The CLI (mamhw/) is the top: it may import anything.
ALLOWED = {
    "plumbing": set(),
    "golden": {"plumbing"},
    "model": {"plumbing", "golden"},
    "hw": {"plumbing", "golden"},
    "sim": {"plumbing", "golden", "hw"},
    "fpga": {"plumbing", "golden", "hw"},
    "cli": {"plumbing", "golden", "model", "hw", "sim", "fpga"},
}


def _modules():
    """{module name (mamhw.x.y): path} of every Python file of the package."""
    out = {}
    for folder, part in PARTS.items():
        base = os.path.join(ROOT, folder)
        if not os.path.isdir(base):
            continue
        for dirpath, _, files in os.walk(base):
            for f in files:
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), base)[:-3].replace(os.sep, ".")
                prefix = "mamhw" if folder == "mamhw" else f"mamhw.{folder}"
                name = prefix if rel == "__init__" else f"{prefix}.{rel.removesuffix('.__init__')}"
                out[name] = os.path.join(dirpath, f)
    return out


def part_of(module):
    """The part a module belongs to: plumbing, golden, model, hw, sim, fpga or cli."""
    bits = module.split(".")
    if module == "mamhw.plumbing":
        return "plumbing"
    if len(bits) > 1 and bits[1] in PARTS and bits[1] != "mamhw":
        return bits[1]
    return "cli"


def _resolve(module, is_package, node, known):
    """The modules of the package an import statement of `module` names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "mamhw"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    elif node.module and node.module.split(".")[0] == "mamhw":
        target = node.module
    else:
        return []
    names = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
    return names or [target]


def import_graph():
    """{module: set of the package's modules it imports}."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        with open(path, "rb") as f:
            tree = ast.parse(f.read())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(d for d in _resolve(name, path.endswith("__init__.py"), node, mods) if d in mods)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph):
    """Groups of two or more modules that each reach all the others through imports, each group sorted."""
    def reach(v):
        seen, todo = set(), [v]
        while todo:
            for w in graph.get(todo.pop(), ()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    reaches = {v: reach(v) for v in graph}
    groups = {tuple(sorted({v} | {w for w in reaches[v] if v in reaches.get(w, ())})) for v in graph}
    return [list(g) for g in sorted(groups) if len(g) > 1]


def _is_package_init(module, graph):
    return any(m.startswith(module + ".") for m in graph)


def upward_imports(graph):
    """(importer, imported) pairs that break ALLOWED."""
    bad = []
    for src, deps in graph.items():
        for dst in deps:
            a, b = part_of(src), part_of(dst)
            if a != b and b not in ALLOWED[a]:
                bad.append((src, dst))
    return sorted(bad)


def part_graph(graph):
    """{(part, part): number of module imports} between different parts."""
    edges = defaultdict(int)
    for src, deps in graph.items():
        for dst in deps:
            a, b = part_of(src), part_of(dst)
            if a != b:
                edges[a, b] += 1
    return dict(edges)


def _module_graph_without_package_inits(graph):
    """A package's __init__ re-exports its modules, and `from . import x` in a module of the package names the
    package: such edges make no cycle at run time, so cycles are looked for among the other modules."""
    inits = {m for m in graph if _is_package_init(m, graph)}
    return {m: {d for d in deps if d not in inits} for m, deps in graph.items() if m not in inits}


def test_no_import_runs_back_up_the_chain():
    bad = upward_imports(import_graph())
    assert not bad, "imports against the one-way flow: " + ", ".join(f"{a} -> {b}" for a, b in bad)


def test_no_two_modules_import_each_other():
    found = cycles(_module_graph_without_package_inits(import_graph()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_check_catches_an_upward_import_and_a_cycle():
    graph = {"mamhw.golden.a": {"mamhw.hw.b"}, "mamhw.hw.b": {"mamhw.golden.a"}, "mamhw.sim.c": {"mamhw.fpga.d"},
             "mamhw.fpga.d": set()}
    assert upward_imports(graph) == [("mamhw.golden.a", "mamhw.hw.b"), ("mamhw.sim.c", "mamhw.fpga.d")]
    assert cycles(graph) == [["mamhw.golden.a", "mamhw.hw.b"]]


if __name__ == "__main__":
    g = import_graph()
    print("imports between the package's parts (module imports):")
    for (a, b), n in sorted(part_graph(g).items()):
        flag = "" if b in ALLOWED[a] else "   <- against the one-way flow"
        print(f"  {a:9s} -> {b:9s} {n:3d}{flag}")
    found = cycles(_module_graph_without_package_inits(g))
    print("module cycles:", "none" if not found else "; ".join(" <-> ".join(c) for c in found))
