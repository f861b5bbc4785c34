"""The sparse PE in Amaranth's simulator: bit-exact against the golden model, cycles exactly as modelled."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings

from mamhw.golden import PE_LATENCY, Layer, forward
from mamhw.hw.pe import PE
from mamhw.sim.pe_amaranth import build_pe, simulate_pe
from tests.strategies import layers_and_inputs, make_layer_and_inputs


def assert_exact(layer, x, **kw):
    res = simulate_pe(layer, x, **kw)
    np.testing.assert_array_equal(res.outputs, forward(layer, x))
    assert res.cycles.tolist() == [res.model_cycles] * x.shape[0]
    assert res.counter.tolist() == res.cycles.tolist()
    return res


def test_latency_is_the_contract():
    assert PE.LATENCY == PE_LATENCY


@settings(max_examples=100)
@given(layers_and_inputs(max_in=800, max_out=10, max_entries=1500))
def test_random_layers_bit_exact_and_cycle_exact(case):
    assert_exact(*case)


BASE = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=0, n_dense=0, sign_mode="any", relu=False,
            scale="fit", batch=2, seed=7)
DIRECTED = {
    "one-input": dict(n_in=1, n_out=5, density=1.0, n_empty=2),
    "wide-dense-rows": dict(n_in=760, n_out=3, density=0.003, n_dense=2),
    "density-0.1%": dict(n_in=780, n_out=8, density=0.001),
    "all-empty": dict(n_in=20, n_out=4, density=0.5, n_empty=4),
    "all-dense": dict(n_in=12, n_out=6, density=1.0, n_dense=6),
    "negative-products": dict(n_in=40, n_out=8, density=0.1, sign_mode="negative_products", n_dense=1),
    "negative-products-relu": dict(n_in=40, n_out=8, density=0.3, sign_mode="negative_products", relu=True),
    "extremes-saturating": dict(n_in=30, n_out=8, density=0.3, sign_mode="extremes", scale="saturating"),
    "extremes-relu": dict(n_in=30, n_out=8, density=0.7, sign_mode="extremes", scale="saturating", relu=True),
    "mac": dict(kind="mac", n_in=100, n_out=6, density=0.3, n_empty=1, n_dense=1),
    "mac-extremes": dict(kind="mac", n_in=64, n_out=4, density=1.0, sign_mode="extremes", scale="fit"),
    "wide-widths": dict(in_bits=16, w_bits=16, out_bits=32, n_in=50, n_out=5, density=0.2, sign_mode="extremes"),
    "narrow-widths": dict(in_bits=2, w_bits=2, out_bits=2, n_in=9, n_out=5, density=0.5, scale="saturating"),
}


@pytest.mark.parametrize("name", DIRECTED)
def test_directed_layers(name):
    layer, x = make_layer_and_inputs(BASE | DIRECTED[name])
    assert_exact(layer, x)


def test_extreme_product_saturates_both_ways():
    # -128 * -128 = 16384, the one product that needs the full 16-bit signed range.
    layer = Layer.build(kind="mam", weight=[[-128, 0], [-128, -128], [127, 127]], bias=[0, 0, 0], mult=1,
                        shift=0, relu=False, out_bits=16)
    x = np.array([[-128, 0], [-128, -128], [127, -128]])
    res = assert_exact(layer, x)
    assert res.outputs[1].tolist() == [16384, 32767, -32512]       # exact, saturated high, exact
    assert res.outputs[2].tolist() == [-16256, 128, -127]


def test_loading_through_the_write_port():
    layer, x = make_layer_and_inputs(BASE | dict(n_in=17, n_out=6, density=0.4, n_empty=1, n_dense=1, batch=3))
    assert_exact(layer, x, load_via_port=True)


def test_vcd_is_written(tmp_path):
    layer, x = make_layer_and_inputs(BASE | dict(n_in=8, n_out=3, density=0.5, batch=1))
    assert_exact(layer, x, vcd=tmp_path / "w.vcd")
    text = (tmp_path / "w.vcd").read_text()
    assert "$enddefinitions" in text and "busy" in text


def test_done_rises_once_per_run_and_start_is_ignored_while_busy():
    layer, x = make_layer_and_inputs(BASE | dict(n_in=10, n_out=4, density=0.5, n_empty=1, batch=1))
    pe = build_pe(layer)
    entries = int(np.maximum(np.count_nonzero(layer.weight, axis=1), 1).sum())
    rises = []

    async def testbench(ctx):
        for i, v in enumerate(x[0]):
            ctx.set(pe.act_mem.data[i], int(v))
        for run in range(2):
            ctx.set(pe.start, 1)
            await ctx.tick()
            prev, n = ctx.get(pe.done), 0
            assert prev == 0
            for n in range(1, entries + PE_LATENCY + 10):
                ctx.set(pe.start, n == 3)                     # a start while busy must not restart the run
                await ctx.tick()
                now = ctx.get(pe.done)
                if now and not prev:
                    rises.append((run, n))
                prev = now
            ctx.set(pe.start, 0)
            assert ctx.get(pe.cycles) == entries + PE_LATENCY

    sim = Simulator(pe)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert rises == [(0, entries + PE_LATENCY), (1, entries + PE_LATENCY)]
