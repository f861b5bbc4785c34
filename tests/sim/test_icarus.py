"""cocotb + Icarus Verilog on the emitted Verilog: bit-exact and cycle-exact like Amaranth's simulator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import PE_LATENCY, encode, forward, network_forward, pe_cycles
from mamhw.golden.cycles import network_cycles
from mamhw.golden.engines import cycle_model
from mamhw.fpga.structure import engine_options
from mamhw.fpga.targets import get_target
from mamhw.hw.top import weight_image
from mamhw.hw.specs import build_network_engine
from mamhw.hw.weight_ram import SPRAM_DEPTH
from mamhw.sim.icarus import run_icarus
from mamhw.sim.pe_amaranth import build_pe, simulate_pe
from tests.strategies import chain_network, make_layer_and_inputs, networks_and_inputs

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


@pytest.mark.parametrize("params", [
    dict(kind="mam", n_in=40, n_out=10, density=0.1, sign_mode="extremes", seed=4),
    dict(kind="mac", n_in=30, n_out=6, density=0.5, sign_mode="extremes", seed=5),
], ids=["mam", "mac"])
def test_icarus_pe_with_dsp_instances(params):
    """The ECP5 build's multipliers are MULT18X18D instances with the product register inside (hw/dsp.py): the
    same outputs and cycles against the DSP's model, with extreme weights and inputs through both products."""
    layer, x = make_layer_and_inputs(BASE | params)
    pe = build_pe(layer, dsp="MULT18X18D")
    outputs, cycles, _ = run_icarus(pe, x, n_out=layer.n_out)
    np.testing.assert_array_equal(outputs, forward(layer, x))
    assert cycles.tolist() == [pe_cycles(encode(layer).row_nnz, PE_LATENCY)] * x.shape[0]


@settings(max_examples=6, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=120, max_width=12, max_entries=200), st.sampled_from([1, 2, 3]),
       st.sampled_from([None, "MULT18X18D"]))
def test_icarus_on_random_networks(case, pes, dsp):
    network, x = case
    engine, assignments = build_network_engine(network, pes, dsp=dsp)
    model = network_cycles(assignments)
    outputs, cycles, counters = run_icarus(engine, x, n_out=network.n_out, timeout=4 * model.total + 64,
                                           counters=(("cycles", 1), ("layer_cycles", len(network))))
    np.testing.assert_array_equal(outputs, network_forward(network, x))
    assert cycles.tolist() == [model.total] * x.shape[0]
    assert counters[:, 1:].tolist() == [list(model.per_layer)] * x.shape[0]


@settings(max_examples=3, deadline=None)
@given(networks_and_inputs(max_layers=2, max_in=80, max_width=10, max_entries=150), st.sampled_from([1, 2]))
def test_icarus_engine_with_spram_instances(case, pes):
    """The UP5K's SPRAM build: every PE's entry words in SB_SPRAM256KA instances (hw/weight_ram.py), simulated
    against Yosys's model of the cell, loaded through the engine's ports before the batch."""
    network, x = case
    engine, assignments = build_network_engine(network, pes, options=engine_options(get_target("up5k"), spram=True))
    model = network_cycles(assignments)
    words, _ = weight_image(engine.engine)
    outputs, cycles, _ = run_icarus(engine, x, n_out=network.n_out, timeout=4 * model.total + 64, weights=words)
    np.testing.assert_array_equal(outputs, network_forward(network, x))
    assert cycles.tolist() == [model.total] * x.shape[0]


def test_icarus_relative_indices_over_two_spram_banks():
    """The ViT-sized SPRAM build in small: entries with relative indices (3 bits here: fillers where a step is
    longer than 7), more entries than one SPRAM's 16384 words, so the PE's weight RAM is two banks of
    SB_SPRAM256KA whose reads the registered top address bit picks; loaded through the engine's ports, then run,
    bit- and cycle-exact against the cycle model with the same delta_bits."""
    network, x = chain_network(dict(kind="mac", n_in=600, n_out=100, density=0.3, n_empty=1, sign_mode="extremes"))
    options = engine_options(get_target("up5k"), spram=True, delta_bits=3)
    engine, assignments = build_network_engine(network, 1, options=options)
    model = network_cycles(assignments)
    pe = engine.engine.pe[0]
    assert pe.entry_shape.size == 12 and SPRAM_DEPTH < pe.n_entries <= 2 * SPRAM_DEPTH
    assert model.total == cycle_model(network, 1, delta_bits=3).total > cycle_model(network, 1).total
    words, _ = weight_image(engine.engine)
    outputs, cycles, _ = run_icarus(engine, x, n_out=network.n_out, timeout=4 * model.total + 64, weights=words)
    np.testing.assert_array_equal(outputs, network_forward(network, x))
    assert cycles.tolist() == [model.total] * x.shape[0]
