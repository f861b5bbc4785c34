"""The network engine: layers back to back on chip, bit-exact against the golden network and cycle-exact per
layer against the model."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mamhw.golden import PE_LATENCY, Network, network_forward
from mamhw.golden.cycles import NETWORK_LAYER_OVERHEAD, NETWORK_OVERHEAD
from mamhw.fpga.structure import silence
from mamhw.hw.network import NetworkEngine
from mamhw.golden.engines import cycle_model
from mamhw.hw.engine import relative_index_misfit
from mamhw.hw.specs import build_network_engine, layer_specs
from mamhw.sim.engine_amaranth import simulate_network
from mamhw.sim.pe_amaranth import read_outputs, start_and_wait, write_inputs
from tests.strategies import chain_network, make_layer_and_inputs, networks_and_inputs

ENGINE_PES = st.sampled_from([1, 2, 3, 4, 8])


def assert_exact(network, x, pes, **kw):
    res = simulate_network(network, x, pes, **kw)
    if not isinstance(network, Network):
        network = Network([network])
    np.testing.assert_array_equal(res.outputs, network_forward(network, x))
    batch = x.shape[0]
    assert res.cycles.tolist() == [res.model_cycles] * batch
    assert res.counter.tolist() == res.cycles.tolist()
    assert res.layer_cycles.tolist() == [res.model_layer_cycles.tolist()] * batch
    assert res.matches_model
    return res


def test_constants_are_the_contract():
    assert NetworkEngine.LATENCY == PE_LATENCY
    assert NetworkEngine.LAYER_OVERHEAD == NETWORK_LAYER_OVERHEAD
    assert NetworkEngine.OVERHEAD == NETWORK_OVERHEAD


@settings(max_examples=20)
@given(networks_and_inputs(max_layers=4, max_in=300, max_width=24, max_entries=300), ENGINE_PES, st.booleans(),
       st.booleans(), st.booleans())
def test_random_networks_bit_exact_and_cycle_exact(case, pes, unroll, onehot_banks, paired_buffers):
    assert_exact(*case, pes, unroll=unroll, onehot_banks=onehot_banks, paired_buffers=paired_buffers)


@settings(max_examples=6)
@given(networks_and_inputs(max_layers=3, max_in=40, max_width=12, max_entries=150, bits=(3, 8, 16)),
       st.sampled_from([1, 3, 4]))
def test_random_networks_mixed_widths(case, pes):
    assert_exact(*case, pes)


def test_mam_hidden_mac_output():
    network, x = chain_network(dict(n_in=200, n_out=24, density=0.05, relu=True),
                        dict(kind="mac", n_in=24, n_out=5, density=0.5))
    res = assert_exact(network, x, 4)
    assert len(res.load) == 2 and [int(l.sum()) for l in res.load] == res.entries.tolist()
    assert np.all(res.efficiency > 0) and np.all(res.efficiency <= 1)


def test_four_layers_some_pes_idle_in_narrow_layers():
    network, x = chain_network(dict(n_in=64, n_out=20, density=0.1, relu=True),
                        dict(n_in=20, n_out=3, density=0.7, kind="mac"),
                        dict(n_in=3, n_out=11, density=1.0, n_empty=2),
                        dict(n_in=11, n_out=2, density=0.5, kind="mac"))
    for paired in (False, True):            # both buffers in one memory per (replica, bank), or separate
        res = assert_exact(network, x, 8, paired_buffers=paired)
        assert [int((l > 0).sum()) for l in res.load] == [8, 3, 8, 2]


def test_single_layer_file_is_a_one_layer_network():
    layer, x = make_layer_and_inputs(dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_in=50, n_out=10,
                                          density=0.2, n_empty=1, n_dense=1, sign_mode="any", relu=True,
                                          scale="fit", batch=2, seed=3))
    res = assert_exact(layer, x, 2)
    assert res.model_layer_cycles.tolist() == [res.model_cycles]
    np.testing.assert_array_equal(res.outputs, network_forward(Network([layer]), x))


def test_vcd_is_written(tmp_path):
    network, x = chain_network(dict(n_in=10, n_out=4, density=0.5), dict(n_in=4, n_out=2, density=1.0))
    assert_exact(network, x[:1], 2, vcd=tmp_path / "n.vcd")
    text = (tmp_path / "n.vcd").read_text()
    assert "$enddefinitions" in text and "layer_cycles" in text


@pytest.mark.parametrize("pes", [1, 3])
def test_host_ports_load_inputs_and_read_outputs(pes):
    """x_we/x_addr/x_data by input number and y_addr/y_data by output row (Y_LATENCY = 2 cycles, a new row every
    cycle), as a host or the compiled-simulation driver uses them; two runs back to back."""
    network, x = chain_network(dict(n_in=37, n_out=9, density=0.3, relu=True), dict(n_in=9, n_out=6, density=0.6),
                        dict(n_in=6, n_out=5, density=0.8, kind="mac"))
    top, assignments = build_network_engine(network, pes)
    expect = network_forward(network, x)
    got = np.zeros_like(expect)

    async def testbench(ctx):
        for s in range(x.shape[0]):
            await write_inputs(ctx, top, x[s])
            await start_and_wait(ctx, top, 10_000)
            assert top.Y_LATENCY == 2
            await read_outputs(ctx, top, got[s])

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    np.testing.assert_array_equal(got, expect)


@settings(max_examples=8)
@given(networks_and_inputs(max_layers=3, max_in=120, max_width=16, max_entries=200), st.sampled_from([1, 2, 4]),
       st.booleans())
def test_weights_loaded_at_run_time_bit_exact_and_cycle_exact(case, pes, unroll):
    """Entry words in RAMs the testbench fills through the engine's loading ports first (the SPRAM build)."""
    assert_exact(*case, pes, unroll=unroll, weight_ram="memory")


def test_loaded_weights_are_not_in_the_design():
    """A weight RAM starts empty (as the SPRAM does): the words come only from the load."""
    network, _ = chain_network(dict(n_in=40, n_out=8, density=0.5))
    top, _ = build_network_engine(network, 2, weight_ram="memory")
    for pe in top.engine.pe:
        assert list(pe.entry_mem.mem.init) == [0] * pe.n_entries
        assert any(pe.entry_words)
    silence(top)                                              # built to be inspected, never elaborated


@settings(max_examples=12)
@given(networks_and_inputs(max_layers=3, max_in=120, max_width=16, max_entries=200, dense_mam=False),
       st.sampled_from([1, 2, 3, 7]), st.sampled_from([None, "memory"]))
def test_relative_indices_bit_exact_and_cycle_exact(case, delta_bits, weight_ram):
    """Entries with relative indices (one PE: its addresses are the input numbers): fillers cost their cycles,
    which the cycle model counts with the same delta_bits, and change no output."""
    network, x = case
    assume(not any(layer.kind == "mam" and (layer.row_nnz == layer.n_in).any() for layer in network))  # by chance
    res = assert_exact(network, x, 1, delta_bits=delta_bits, weight_ram=weight_ram)
    assert res.model.total == cycle_model(network, 1, delta_bits=delta_bits).total


def test_relative_indices_refuse_a_dense_mam_row():
    """A filler's product 0 would reach max or min of a row without pruned weights: refused, with the reason."""
    network, _ = chain_network(dict(n_in=30, n_out=4, density=0.2, n_dense=1))
    with pytest.raises(ValueError, match="dense MAM row"):
        build_network_engine(network, 1, delta_bits=3)


def test_relative_indices_need_ascending_addresses():
    """On several PEs a layer after the first reads where the previous layer's PEs wrote, not in input order:
    the engine says so before building anything."""
    network, _ = chain_network(dict(n_in=40, n_out=12, density=0.3), dict(n_in=12, n_out=6, density=0.5))
    specs, _ = layer_specs(network, 3, 7)
    assert relative_index_misfit(specs, 3, 7) is not None
    assert relative_index_misfit(layer_specs(network, 1, 7)[0], 1, 7) is None
    assert relative_index_misfit(layer_specs(network[:1], 3, 7)[0], 3, 7) is None
