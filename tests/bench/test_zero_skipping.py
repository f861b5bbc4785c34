"""bench/zero_skipping.py --quick: a trained digits network, its test set through the cycle models of both engines,
and the window engine's RTL (compiled simulator) bit- and cycle-exact on the first images."""

import pytest

from tests.bench_scripts import quick_json


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return quick_json(tmp_path_factory, "zero_skipping.py", "--json", timeout=900)


def test_rows_are_the_models_figures_and_the_rtl_matches(quick):
    out, result = quick
    (seed,) = result["seeds"]
    res = seed["result"]
    assert seed["shape"] == [64, 32, 10] and res["entries"] == sum(seed["nnz"])
    assert 0.2 < res["zero_inputs"] < 0.8                       # digits have a background of zeros
    rows = {(r["engine"], r["pes"]): r for r in res["rows"]}
    assert set(rows) == {("row", 4), ("window16", 4), ("window64", 4)}
    row = rows["row", 4]
    assert row["std"] == 0 and row["min"] == row["max"] == row["most"] == row["mean"] == res["baseline"]
    for name in ("window16", "window64"):
        r = rows[name, 4]
        assert r["min"] <= r["mean"] <= r["max"] <= r["most"]
        assert r["min"] < r["most"]                             # zeros were skipped
        assert r["speedup"] == pytest.approx(res["baseline"] / r["mean"])
        assert r["efficiency"] == pytest.approx(res["entries"] / (4 * r["mean"]))
        assert r["verified"] == {"samples": 5, "bit_exact": True, "cycle_exact": True}
    assert "every output bit-exact and every cycle count the model's (2 runs)" in out
