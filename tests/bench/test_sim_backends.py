"""bench/sim_backends.py --quick: every backend runs the same 64-32-10 engine bit-exact and cycle-exact, the native
driver clocks exactly the cycles the protocol takes, and the rates and ratios are printed (Verilator's only where it
is installed)."""

import os
import re

from mamhw.sim import verilator
from tests.bench_scripts import run_bench

BACKENDS = ["Amaranth simulator", "Icarus (cocotb)", "compiled, CXXRTL", "compiled, 1 lane", "compiled, 4 lanes"]


def test_quick_sim_backends_runs_every_backend_exact(tmp_path):
    env = dict(os.environ, MAMHW_CACHE=str(tmp_path / "cache"))
    proc = run_bench("sim_backends.py", "--quick", timeout=1800, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    rows = {m[0].strip(): m for m in re.findall(
        r"^  (.{24}) +(\d+) +([\d.]+|-) +([\d,]+) +([\d,]+) (cpu|wall) +([\d,]+|-) +(yes|NO)", out, re.M)}
    installed = verilator.version() is not None
    expected = BACKENDS + (["Verilator"] if installed else [])
    assert sorted(rows) == sorted(expected), out
    assert all(row[7] == "yes" for row in rows.values()), out
    # Each sample: loading, the start cycle, the run (the cycle model's count), the rows and the read latency.
    run, load, read = (int(v.replace(",", "")) for v in re.search(
        r"([\d,]+) cycles from start to done per sample \(\+ ([\d,]+) to load, 1 to start, ([\d,]+) to read\)",
        out).groups())
    assert load == 64 and read == 10 + 2 - 1, out
    for name in ("compiled, 1 lane", "compiled, 4 lanes"):
        assert int(rows[name][1]) == 8 and int(rows[name][3].replace(",", "")) == 8 * (load + 1 + run + read), out
    assert int(rows["Amaranth simulator"][3].replace(",", "")) == 2 * (1 + run), out     # start and run only
    if installed:
        assert re.search(r"compiled 1 lane / Verilator: [\d.]+x per CPU second", out), out
        assert re.search(r"compiled 4 lanes / Verilator: [\d.]+x", out), out
    else:
        assert "Verilator                skipped: verilator is not installed" in out
