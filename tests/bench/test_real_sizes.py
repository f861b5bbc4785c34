"""bench/real_sizes.py --quick: every (workload, engine, target, P) row is the estimator's exact count of that
network, the fit verdicts follow from the counts, and the largest P that fits is read off the rows."""

import numpy as np
import pytest

from mamhw.fpga.estimate import random_network
from mamhw.fpga.memory_map import memory_blocks
from mamhw.fpga.structure import engine_options
from mamhw.fpga.targets import get_target
from mamhw.golden.cycles import network_cycles, plan_network
from mamhw.golden.engines import cycle_model, sample_cycles
from tests.bench_scripts import bench_module, quick_json

TARGETS = ["up5k", "ecp5-25f", "ecp5-85f"]
PES = [1, 2, 4, 8, 16]
ENGINES = ["row", "window16", "window64"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return quick_json(tmp_path_factory, "real_sizes.py", "--json", timeout=600)


def test_the_workloads_are_the_stated_shapes_at_a_sixteenth_of_the_widths(quick):
    _, result = quick
    shapes = {w["name"]: (w["widths"], w["kinds"], w["density"]) for w in result["workloads"]}
    assert shapes == {"vgg-mam": ([1568, 256, 256, 63], ["mam", "mam", "mac"], 0.0004),
                      "vgg-mac": ([1568, 256, 256, 63], ["mac", "mac", "mac"], 0.0433),
                      "vit-mam": ([48, 192, 48], ["mam", "mac"], 0.01)}
    for w in result["workloads"]:
        sizes = [a * b for a, b in zip(w["widths"], w["widths"][1:])]
        assert w["weights"] == [round(w["density"] * s) for s in sizes] and w["interconnections"] == sizes
        assert [(r["engine"], r["target"], r["pes"]) for r in w["rows"]] == [(e, t, p) for e in ENGINES
                                                                             for t in TARGETS for p in PES]


def test_each_row_holds_the_exact_counts_of_its_network(quick):
    _, result = quick
    seed = result["config"]["seed"]
    bench = bench_module("real_sizes")
    for w in result["workloads"]:
        network = random_network(w["widths"], density=w["density"], kinds=w["kinds"], seed=seed)
        x, outputs = bench.half_zero_inputs(network, seed)
        assert 0.4 < np.mean(x == 0) < 0.6
        for r in w["rows"]:
            target = get_target(r["target"])
            assert r["weights"] == sum(w["weights"])
            if r["engine"] != "row":
                window = int(r["engine"][len("window"):])
                assert r["cycles"] == cycle_model(network, r["pes"], "window", window).total
                assert r["cycles_half_zero"] == pytest.approx(
                    sample_cycles(network, x, r["pes"], "window", window, outputs).sum(axis=1).mean())
                assert r["cycles_half_zero"] <= r["cycles"]
                assert r["sprams"] == 0 and r["logic_cells_estimate"] > 0     # the window engine's own model
            else:
                delta_bits = r["delta_bits"]          # relative indices in SPRAM: fillers, counted by the model
                assert delta_bits == 0 or r["weights_in"] == "spram"
                assert r["cycles"] == r["cycles_half_zero"] == \
                    network_cycles(plan_network(network, r["pes"], delta_bits)).total
                assert r["fillers"] == r["entries"] - network_cycles(plan_network(network, r["pes"])).entries.sum()
                mem = memory_blocks(network, r["pes"], target.family,
                                    options=engine_options(target, spram=r["weights_in"] == "spram",
                                                           delta_bits=delta_bits))
                assert (r["block_rams"], r["sprams"], r["lut_rams"]) == (mem["block_rams"], mem["sprams"],
                                                                         mem["lut_rams"])
            within = (r["block_rams"] <= r["block_rams_available"] and r["dsps"] <= r["dsps_available"]
                      and r["sprams"] <= r["sprams_available"])
            if r["fits"]:
                assert within and r["does_not_fit"] == []
            else:
                assert r["does_not_fit"] and all("logic cells" not in m for m in r["does_not_fit"])
            assert r["seconds"] >= 0
        assert any(r["cycles_half_zero"] < r["cycles"] for r in w["rows"] if r["engine"] != "row")    # skipped


def test_the_largest_p_that_fits_and_why_the_next_does_not(quick):
    stdout, result = quick
    for w in result["workloads"]:
        for engine, target in [(e, t) for e in ENGINES for t in TARGETS]:
            rows = {r["pes"]: r for r in w["rows"] if r["target"] == target and r["engine"] == engine}
            fitting = [p for p in PES if rows[p]["fits"]]
            fit = w["largest_fit"][f"{engine}/{target}"]
            assert fit["pes"] == (max(fitting) if fitting else None)
            later = [p for p in PES if fit["pes"] is None or p > fit["pes"]]
            nxt = later[0] if later else None
            assert fit["next_pes"] == nxt
            if nxt is not None:
                assert fit["next_misfits"] == rows[nxt]["does_not_fit"] != []
            said = f"  {engine} engine, " + (f"{target}: fits at no P; at P=1: " if fit["pes"] is None else
                                             f"{target}: P={fit['pes']}" + (f"; P={nxt} needs " if nxt else
                                                                           " (the largest P measured)"))
            assert said + ("; ".join(fit["next_misfits"]) if nxt else "") in stdout


def test_the_table_prints_every_row(quick):
    stdout, result = quick
    lines = stdout.splitlines()
    for w in result["workloads"]:
        for r in w["rows"]:
            cells = [f"{r['entries']:,}", f"{r['cycles']:,}", f"{r['cycles_half_zero']:,.0f}",
                     f"{r['block_rams']}/{r['block_rams_available']}",
                     f"{r['dsps']}/{r['dsps_available']}"]
            assert any(line.split()[:2] == [r["engine"], r["target"]] and line.split()[2 + (r["weights_in"] ==
                       "spram")] == str(r["pes"]) and all(c in line.split() for c in cells) for line in lines), r
