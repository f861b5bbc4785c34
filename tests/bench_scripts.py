"""Running the scripts of bench/ as a user does: in their own interpreter, through their command line."""

import importlib.util
import json
import os
import subprocess
import sys

__all__ = ["run_bench", "quick_json", "bench_module"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_bench(script, *args, timeout, env=None):
    """`python bench/<script> ARGS...` run to its end (in `env`, default this process's environment): the finished
    process, stdout and stderr as text."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def quick_json(tmp_path_factory, script, json_flag, *, timeout):
    """`bench/<script> --quick JSON_FLAG FILE`, required to succeed: what it printed and the JSON it wrote."""
    out = tmp_path_factory.mktemp(os.path.splitext(script)[0]) / "quick.json"
    proc = run_bench(script, "--quick", json_flag, out, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, json.loads(out.read_text())


def bench_module(name):
    """bench/<name>.py loaded as a module (as ``bench_<name>``), for what a test rebuilds from it."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(ROOT, "bench", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
