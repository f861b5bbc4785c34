"""The compiled (CXXRTL) backend: bit-exact and cycle-exact like the Amaranth simulator, cached, clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings

from mamhw.fpga.toolchain import ToolError
from mamhw.golden import PE_LATENCY, encode, forward, pe_cycles
from mamhw.sim.cxxrtl import build_compiled
from mamhw.sim.pe_amaranth import build_pe, simulate_pe
from tests.strategies import layers_and_inputs, make_layer_and_inputs


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))


def compiled_pe(layer):
    return build_compiled(build_pe(layer), n_in=layer.n_in, n_out=layer.n_out, x_bits=layer.in_bits,
                          y_bits=layer.out_bits)


@settings(max_examples=8)
@given(layers_and_inputs(max_in=760, max_out=8, max_entries=1500, max_batch=4))
def test_compiled_pe_is_bit_and_cycle_exact(case):
    layer, x = case
    outputs, cycles, counters = compiled_pe(layer).run(x)
    np.testing.assert_array_equal(outputs, forward(layer, x))
    model = pe_cycles(encode(layer).row_nnz, PE_LATENCY)
    assert cycles.tolist() == [model] * x.shape[0]
    assert counters[:, 0].tolist() == cycles.tolist()


def test_compiled_agrees_with_the_amaranth_simulator():
    layer, x = make_layer_and_inputs(dict(kind="mac", in_bits=8, w_bits=8, out_bits=8, n_in=40, n_out=6,
                                          density=0.2, n_empty=1, n_dense=1, sign_mode="extremes", relu=False,
                                          scale="fit", batch=3, seed=11))
    outputs, cycles, _ = compiled_pe(layer).run(x)
    ref = simulate_pe(layer, x)
    np.testing.assert_array_equal(outputs, ref.outputs)
    assert cycles.tolist() == ref.cycles.tolist()


def test_build_is_cached_and_reports_progress():
    layer, x = make_layer_and_inputs(dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_in=16, n_out=4,
                                          density=0.5, n_empty=0, n_dense=0, sign_mode="any", relu=True,
                                          scale="fit", batch=5, seed=2))
    first = compiled_pe(layer)
    second = compiled_pe(layer)
    assert not first.cached and second.cached and first.executable == second.executable
    seen = []
    second.run(x, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (5, 5)


def test_missing_compiler_is_one_clear_error(monkeypatch, tmp_path):
    layer, _ = make_layer_and_inputs(dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_in=4, n_out=2,
                                          density=0.5, n_empty=0, n_dense=0, sign_mode="any", relu=True,
                                          scale="fit", batch=1, seed=2))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match="g\\+\\+ not found") as info:
        compiled_pe(layer)
    assert "\n" not in str(info.value)
