"""The digest of the hardware sources: what keys the area model and the cache of synthesis results to the code that
decides what is synthesized."""

import ast
import hashlib
import os

__all__ = ["source_digest", "digest_sources", "WINDOW_ROOTS"]


def _code_of(source):
    """A Python source as its syntax tree without docstrings: comments, docstrings and layout do not change what is
    synthesized, so they do not change the digest either."""
    return _code_of_tree(ast.parse(source))


def _code_of_tree(tree):
    """:func:`_code_of` for a source already parsed (the tree loses its docstrings)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


# The files a synthesized engine is built from start here; the digest covers them and every module of this package
# they import, found in their syntax trees (so the host link, the UART and the training code are not in it: an
# edit there does not make the model stale).
_DIGEST_ROOTS = ("hw/network.py", "hw/specs.py", "fpga/pnr.py", "fpga/observe.py", "fpga/targets.py")
# The window engine's, for its own part of the model.
WINDOW_ROOTS = ("hw/window_engine.py", "fpga/pnr.py", "fpga/targets.py")


def _package_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _imports(rel, tree):
    """Files of this package that the module at `rel` (a path below the package root) imports."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = os.path.dirname(rel)
                for _ in range(node.level - 1):
                    base = os.path.dirname(base)
                parts = [base] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "mamhw":
                parts = node.module.split(".")[1:]
            else:
                continue
            target = os.path.join(*parts) if any(parts) else ""
            out += [target + ".py", os.path.join(target, "__init__.py")]
            out += [os.path.join(target, a.name + ".py") for a in node.names]       # `from . import x`
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "mamhw":
                    target = os.path.join(*a.name.split(".")[1:])
                    out += [target + ".py", os.path.join(target, "__init__.py")]
    return out


def _source_trees(roots=_DIGEST_ROOTS):
    """{path: syntax tree} of `roots` and every file of this package they import, each parsed once."""
    root, trees, todo = _package_root(), {}, list(roots)
    while todo:
        rel = os.path.normpath(todo.pop())
        if rel in trees or not os.path.isfile(os.path.join(root, rel)):
            continue
        with open(os.path.join(root, rel), "rb") as f:
            trees[rel] = ast.parse(f.read())
        todo += _imports(rel, trees[rel])
    return trees


def digest_sources(roots=_DIGEST_ROOTS):
    """The files :func:`source_digest` covers: `roots` and what they import, sorted."""
    return sorted(_source_trees(roots))


def source_digest(roots=_DIGEST_ROOTS):
    """A digest of the code of every source that decides what is synthesized: the gateware, the golden encoding and
    row assignment it is built from, the engine builder and the synthesis flow (:func:`digest_sources`); with
    :data:`WINDOW_ROOTS`, the window engine's."""
    trees = _source_trees(roots)
    h = hashlib.sha256()
    for rel in sorted(trees):
        h.update(rel.encode() + b"\0" + _code_of_tree(trees[rel]))
    return h.hexdigest()[:16]
