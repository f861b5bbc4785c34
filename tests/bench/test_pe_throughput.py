"""bench/pe_throughput.py --quick: on a 64x64 layer at 1%, 10% and 100%, the PE in Amaranth's simulator gives the
golden outputs bit for bit, takes exactly the cycle model's cycles on every sample, and runs at most one entry per
cycle; a quick run is never recorded into docs/measurements.md."""

import os

import numpy as np
import pytest

from mamhw.golden import PE_LATENCY, encode, forward, pe_cycles
from mamhw.hw.pe import PE
from tests.bench_scripts import ROOT, bench_module, quick_json, run_bench

MEASUREMENTS = os.path.join(ROOT, "docs", "measurements.md")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    before = _read(MEASUREMENTS)
    stdout, result = quick_json(tmp_path_factory, "pe_throughput.py", "--json", timeout=600)
    assert _read(MEASUREMENTS) == before, "a --quick run rewrote docs/measurements.md"
    return stdout, result


def test_the_quick_run_is_the_three_densities_on_a_64x64_layer(quick):
    _, result = quick
    config = result["config"]
    assert (config["quick"], config["size"], config["samples"]) == (True, 64, 2)
    assert [r["density"] for r in result["rows"]] == config["densities"] == [0.01, 0.1, 1.0]
    assert result["latency"] == PE.LATENCY == PE_LATENCY


def test_every_row_is_bit_exact_and_takes_exactly_the_model_cycles(quick):
    _, result = quick
    config = result["config"]
    loads = list(bench_module("pe_throughput").workloads(config["densities"], config["size"], config["samples"], config["seed"]))
    assert len(loads) == len(result["rows"])
    for row, (density, layer, x) in zip(result["rows"], loads):
        assert row["density"] == density
        # The RTL's outputs, as written, are the golden model's on the same layer and inputs.
        assert row["bit_exact"] is True
        assert np.array_equal(np.array(row["outputs"]), forward(layer, x)), density
        # Cycles: the cycle model's, on every sample; one per entry (an empty row is one) plus the latency.
        enc = encode(layer)
        entries = int(np.maximum(np.count_nonzero(layer.weight, axis=1), 1).sum())
        assert row["entries"] == enc.entries == entries
        model = pe_cycles(enc.row_nnz)
        assert model == entries + PE_LATENCY
        assert row["model"] == model
        assert row["cycles_per_sample"] == [model] * config["samples"] and row["cycles"] == model
        assert 0 < row["entries_per_cycle"] <= 1 and row["entries_per_cycle"] == entries / model
        assert row["sim_cycles_per_s"] > 0 and row["seconds"] > 0
    # The dense layer (4096 entries) meets the stated target: only the fixed latency is lost.
    assert result["rows"][-1]["entries_per_cycle"] >= 0.99


def test_the_table_prints_every_row(quick):
    stdout, result = quick
    lines = stdout.splitlines()
    assert lines[0].split() == ["density", "entries", "cycles", "model", "entries/cycle", "sim", "cycles/s",
                                "bit-exact"]
    table = [line.split() for line in lines[1:1 + len(result["rows"])]]
    for cells, row in zip(table, result["rows"]):
        assert cells[0] == f"{row['density']:.0%}"
        assert cells[1:5] == [str(row["entries"]), str(row["cycles"]), str(row["model"]),
                              f"{row['entries_per_cycle']:.4f}"]
        assert cells[-1] == "True"
    assert f"PE latency L = {PE_LATENCY} cycles per run; QUICK: a 64x64 layer" in stdout


def test_a_quick_run_is_never_recorded(tmp_path):
    copy = tmp_path / "measurements.md"
    copy.write_text(_read(MEASUREMENTS), encoding="utf-8")
    before = _read(MEASUREMENTS)
    proc = run_bench("pe_throughput.py", "--quick", f"--record={copy}", timeout=300)
    assert proc.returncode != 0 and "--quick is not recorded" in proc.stderr, proc.stderr
    assert proc.stdout == ""                            # refused before running anything
    assert copy.read_text(encoding="utf-8") == before and _read(MEASUREMENTS) == before
