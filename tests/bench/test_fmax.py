"""bench/fmax.py --quick: real Yosys and nextpnr runs of a P = 1 engine built for two random networks on the UP5K;
the row is the worst network's, and its DSPs and block RAMs are what the estimator says they are for that
network."""

import pytest

from mamhw.fpga.estimate import estimate
from tests.bench_scripts import bench_module, quick_json


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return quick_json(tmp_path_factory, "fmax.py", "--json", timeout=900)


def test_each_design_is_placed_and_timed(quick):
    stdout, rows = quick
    assert [r["design"] for r in rows] == ["mam engine P=1 up5k"]
    for r in rows:
        assert r["target"] == "up5k" and r["seeds"] == 1
        assert 1 < r["fmax_min"] <= r["fmax_median"] <= r["fmax_max"] < 500
        assert 0 < r["logic"] <= r["logic_available"] == 5280
        assert " -> " in r["critical_path"] and r["critical_path"].endswith(" ns)")
        assert r["met"] == (r["fmax_median"] >= r["target_mhz"] == 48.0)
        assert r["design"] in stdout


def test_the_engine_row_is_its_worst_network(quick):
    _, rows = quick
    engine = rows[0]
    assert len(engine["medians"]) == 2 and engine["fmax_median"] == min(engine["medians"])
    assert engine["medians"][engine["network"]] == engine["fmax_median"]


def test_the_engine_takes_the_dsps_and_block_rams_the_estimator_says(quick):
    _, rows = quick
    engine = rows[0]
    rep = estimate(bench_module("fmax").network("mam", engine["network"]), 1, "up5k")
    assert (engine["dsp"], engine["bram"]) == (rep["dsps"], rep["block_rams"])
