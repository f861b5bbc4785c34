"""The compiled backend (both engines: the generated cycle model, with one lane or several, and CXXRTL):
bit-exact and cycle-exact like the Amaranth simulator and the golden model, cached, clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.plumbing import ToolError
from mamhw.golden import PE_LATENCY, encode, forward, network_forward, pe_cycles
from mamhw.rtl import run_rtl
from mamhw.sim import compiled, cyclesim
from mamhw.sim.compiled import build_compiled
from mamhw.sim.pe_amaranth import build_pe, simulate_pe
from tests.strategies import layers_and_inputs, make_layer_and_inputs, make_network_and_inputs, networks_and_inputs

ENGINES = {"lanes4": dict(engine="cyclesim", lanes=4), "lanes1": dict(engine="cyclesim", lanes=1),
           "cxxrtl": dict(engine="cxxrtl")}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))


def compiled_pe(layer, **kw):
    return build_compiled(build_pe(layer), n_in=layer.n_in, n_out=layer.n_out, x_bits=layer.in_bits,
                          y_bits=layer.out_bits, **kw)


def assert_pe_exact(layer, x, **kw):
    design = compiled_pe(layer, **kw)
    outputs, cycles, counters = design.run(x)
    np.testing.assert_array_equal(outputs, forward(layer, x))
    model = pe_cycles(encode(layer).row_nnz, PE_LATENCY)
    assert cycles.tolist() == [model] * x.shape[0]
    assert counters[:, 0].tolist() == cycles.tolist()
    return design


@settings(max_examples=8)
@given(layers_and_inputs(max_in=760, max_out=8, max_entries=1500, max_batch=6, bits=(2, 8, 16)))
def test_compiled_pe_is_bit_and_cycle_exact(case):
    """The default (the cycle model with lanes), batches that fill the lanes or not, 2- to 16-bit widths."""
    design = assert_pe_exact(*case)
    assert design.engine == "cyclesim"


@settings(max_examples=3)
@given(layers_and_inputs(max_in=760, max_out=8, max_entries=1500, max_batch=3, bits=(4, 8, 16)),
       st.sampled_from(["lanes1", "cxxrtl"]))
def test_other_engines_are_bit_and_cycle_exact(case, engine):
    design = assert_pe_exact(*case, **ENGINES[engine])
    assert design.engine == ENGINES[engine]["engine"]


@pytest.mark.parametrize("engine", ENGINES)
def test_compiled_agrees_with_the_amaranth_simulator(engine):
    layer, x = make_layer_and_inputs(dict(kind="mac", in_bits=8, w_bits=8, out_bits=8, n_in=40, n_out=6,
                                          density=0.2, n_empty=1, n_dense=1, sign_mode="extremes", relu=False,
                                          scale="fit", batch=3, seed=11))
    outputs, cycles, _ = compiled_pe(layer, **ENGINES[engine]).run(x)
    ref = simulate_pe(layer, x)
    np.testing.assert_array_equal(outputs, ref.outputs)
    assert cycles.tolist() == ref.cycles.tolist()


@settings(max_examples=5)
@given(networks_and_inputs(max_layers=4, max_in=300, max_width=24, max_entries=300, bits=(3, 8, 16),
                           max_batch=6),
       st.sampled_from([1, 2, 3, 4, 8]))
def test_compiled_networks_bit_exact_and_cycle_exact(case, pes):
    """`mam sim --backend compiled`: outputs, cycles and the engine's per-layer counters, on random networks."""
    network, x = case
    run = run_rtl(network, x, pes=pes, backend="compiled")
    np.testing.assert_array_equal(run.outputs, network_forward(network, x))
    assert run.cycles.tolist() == [run.model.total] * x.shape[0]
    assert run.counter.tolist() == run.cycles.tolist()
    assert run.layer_cycles.tolist() == [list(run.model.per_layer)] * x.shape[0]
    assert run.stats["engine"] == "cyclesim" and run.stats["lane_cycles"] >= run.cycles.sum()


def test_cxxrtl_backend_agrees_on_a_network():
    base = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=1, n_dense=1, sign_mode="any", relu=True,
                scale="fit", batch=1)
    layers = [dict(base, n_in=40, n_out=10, density=0.2, seed=1), dict(base, n_in=10, n_out=5, density=0.5,
                                                                          kind="mac", relu=False, seed=2)]
    network, x = make_network_and_inputs(dict(layers=layers, x_mode="any", batch=5, seed=3))
    runs = [run_rtl(network, x, pes=3, backend=b) for b in ("compiled", "compiled-cxxrtl")]
    assert [r.stats["engine"] for r in runs] == ["cyclesim", "cxxrtl"]
    for run in runs:
        np.testing.assert_array_equal(run.outputs, network_forward(network, x))
        assert run.cycles.tolist() == [run.model.total] * 5
        assert run.layer_cycles.tolist() == [list(run.model.per_layer)] * 5


def _small_layer(seed=2, batch=5):
    return make_layer_and_inputs(dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_in=16, n_out=4,
                                      density=0.5, n_empty=0, n_dense=0, sign_mode="any", relu=True,
                                      scale="fit", batch=batch, seed=seed))


@pytest.mark.parametrize("engine", ["lanes4", "cxxrtl"])
def test_build_is_cached_and_reports_progress(engine):
    layer, x = _small_layer()
    first = compiled_pe(layer, **ENGINES[engine])
    second = compiled_pe(layer, **ENGINES[engine])
    assert not first.cached and second.cached and first.executable == second.executable
    seen = []
    second.run(x, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (5, 5)
    stats = second.stats
    assert stats["lanes"] == ENGINES[engine].get("lanes", 1) and stats["cpu"] >= 0 and stats["wall"] > 0
    # Every sample's lane clocks its load, its start, its run and its read-back.
    per_sample = layer.n_in + 1 + pe_cycles(encode(layer).row_nnz, PE_LATENCY) + layer.n_out
    assert stats["lane_cycles"] == 5 * per_sample


def test_empty_batch():
    layer, x = _small_layer()
    outputs, cycles, counters = compiled_pe(layer).run(x[:0])
    assert outputs.shape == (0, layer.n_out) and cycles.shape == (0,) and counters.shape == (0, 1)


def test_a_design_the_cycle_model_refuses_falls_back_to_cxxrtl(monkeypatch):
    calls = []

    def refuse(*args, **kw):
        calls.append(1)
        raise cyclesim.Unsupported("cell $frob of type $frob")

    monkeypatch.setattr(cyclesim, "generate", refuse)
    layer, x = _small_layer()
    logged = []
    design = compiled_pe(layer, log=logged.append)
    assert design.engine == "cxxrtl" and "$frob" in design.note
    assert any("using CXXRTL" in line for line in logged)
    again = compiled_pe(layer)
    assert again.engine == "cxxrtl" and again.cached and len(calls) == 1      # the refusal is remembered
    with pytest.raises(ToolError, match="does not model"):
        compiled_pe(layer, engine="cyclesim")
    outputs, _, _ = design.run(x)
    np.testing.assert_array_equal(outputs, forward(layer, x))


def test_missing_compiler_is_one_clear_error(monkeypatch, tmp_path):
    layer, _ = _small_layer(batch=1)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match="g\\+\\+ not found") as info:
        compiled_pe(layer)
    assert "\n" not in str(info.value)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        build_compiled(None, n_in=1, n_out=1, x_bits=8, y_bits=8, engine="verilator")
    assert compiled.default_lanes() in (1, 4)
