"""Post-synthesis netlist simulation: the iCE40 netlist (SB_MAC16, block RAM with initial contents) and the ECP5
netlist (MULT18X18D, LUT RAM with initial contents) under Icarus against Yosys's cell models give the golden
outputs and the modelled cycles. Each family's design is the one its flow builds: on the ECP5, multipliers as
MULT18X18D instances with their output register (hw/dsp.py), simulated against sim/dsp_model.py, and one-hot bank
hits; on the iCE40, both activation buffers paired in each block RAM."""

import numpy as np
import pytest

from mamhw.golden import PE_LATENCY, encode, forward, network_forward, pe_cycles
from mamhw.golden.cycles import network_cycles
from mamhw.fpga.structure import engine_options
from mamhw.hw.dsp import FAMILY_DSP
from mamhw.fpga.targets import get_target
from mamhw.hw.specs import build_network_engine
from mamhw.sim.netlist import run_netlist
from mamhw.sim.pe_amaranth import build_pe
from tests.strategies import make_layer_and_inputs, make_network_and_inputs

LAYER = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_in=24, n_out=8, density=0.2, n_empty=1, n_dense=1,
             sign_mode="any", relu=False, scale="fit", batch=3, seed=4)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_netlist_of_the_pe_is_bit_and_cycle_exact(family):
    layer, x = make_layer_and_inputs(LAYER)
    pe = build_pe(layer, dsp=FAMILY_DSP[family])
    outputs, cycles, counters = run_netlist(pe, x, family=family, n_out=layer.n_out, timeout=2000)
    np.testing.assert_array_equal(outputs, forward(layer, x))
    assert cycles.tolist() == counters[:, 0].tolist() == [pe_cycles(encode(layer).row_nnz, PE_LATENCY)] * 3


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_netlist_of_a_network_engine_is_bit_and_cycle_exact(family):
    layers = [dict(LAYER, kind="mam", n_in=20, n_out=10, relu=True, batch=1, seed=1),
              dict(LAYER, kind="mac", n_in=10, n_out=4, density=0.5, batch=1, seed=2)]
    network, x = make_network_and_inputs(dict(layers=layers, x_mode="extremes", batch=2, seed=3))
    target = get_target({"ice40": "up5k", "ecp5": "ecp5-85f"}[family])
    engine, assignments = build_network_engine(network, 2, options=engine_options(target))
    model = network_cycles(assignments)
    outputs, cycles, counters = run_netlist(engine, x, family=family, n_out=network.n_out,
                                            counters=(("cycles", 1), ("layer_cycles", 2)), timeout=5000)
    np.testing.assert_array_equal(outputs, network_forward(network, x))
    assert cycles.tolist() == [model.total] * 2
    assert counters[:, 1:].tolist() == [list(model.per_layer)] * 2
