"""cocotb + Icarus Verilog on the emitted Verilog: bit-exact and cycle-exact like Amaranth's simulator."""

import numpy as np
import pytest

from mamhw.golden import PE_LATENCY, encode, forward, pe_cycles
from mamhw.sim.icarus import run_icarus
from mamhw.sim.pe_amaranth import build_pe, simulate_pe
from tests.strategies import make_layer_and_inputs

BASE = dict(in_bits=8, w_bits=8, out_bits=8, n_empty=1, n_dense=1, sign_mode="any", relu=False, scale="fit",
            batch=3)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("params", [
    dict(kind="mam", n_in=40, n_out=10, density=0.1, seed=1),
    dict(kind="mam", n_in=1, n_out=4, density=1.0, n_dense=0, sign_mode="negative_products", relu=True, seed=2),
    dict(kind="mac", n_in=30, n_out=6, density=0.5, sign_mode="extremes", seed=3),
], ids=["mam-sparse", "mam-one-input", "mac-extremes"])
def test_icarus_matches_golden_and_amaranth(params):
    layer, x = make_layer_and_inputs(BASE | params)
    outputs, cycles, counters = run_icarus(build_pe(layer), x, n_out=layer.n_out)
    np.testing.assert_array_equal(outputs, forward(layer, x))
    model = pe_cycles(encode(layer).row_nnz, PE_LATENCY)
    assert cycles.tolist() == counters[:, 0].tolist() == [model] * x.shape[0]
    ref = simulate_pe(layer, x)
    np.testing.assert_array_equal(outputs, ref.outputs)
    assert cycles.tolist() == ref.cycles.tolist()
