"""bench/engine_scaling.py --quick: the cycle model's table for P = 1 and 4, and the RTL (Amaranth's simulator)
cycle-exact and bit-exact against it at P = 2."""

import re

from tests.bench_scripts import run_bench


def test_quick_engine_scaling_runs_and_the_rtl_matches_the_model():
    proc = run_bench("engine_scaling.py", "--quick", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    checks = re.findall(r"^  (.+), P=(\d+): measured \[(\d+)\].*model (\d+) .*cycle-exact (\w+), bit-exact (\w+)",
                        out, re.M)
    assert [(name, p) for name, p, *_ in checks] == [("392-128-10 @2%", "2"), ("256x256 @1%", "2")]
    assert all(measured == model and exact == "True" and bit == "True"
               for _, _, measured, model, exact, bit in checks)
    # The 6554-entry layer meets the stated target on 1 and 4 PEs; no layer misses it.
    met = re.findall(r"^\s+([14])\s+0\s+6554 .* met$", out, re.M)
    assert met == ["1", "4"] and "MISSED" not in out
