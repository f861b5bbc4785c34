"""The layer engine: P PEs on one layer, bit-exact against the golden model and cycle-exact against the model."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import PE_LATENCY, Layer, forward
from mamhw.golden.cycles import ENGINE_OVERHEAD
from mamhw.hw.engine import LayerEngine
from mamhw.hw.specs import build_layer_engine
from mamhw.sim.engine_amaranth import fetch_outputs, place_inputs, simulate_layer_engine
from tests.strategies import layers_and_inputs, make_layer_and_inputs

ENGINE_PES = st.sampled_from([1, 2, 3, 4, 8])
BASE = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=0, n_dense=0, sign_mode="any", relu=False,
            scale="fit", batch=2, seed=11)


def assert_exact(layer, x, pes, unroll=True):
    res = simulate_layer_engine(layer, x, pes, unroll=unroll)
    np.testing.assert_array_equal(res.outputs, forward(layer, x))
    assert res.cycles.tolist() == [res.model_cycles] * x.shape[0]
    assert res.counter.tolist() == res.cycles.tolist()
    assert res.model_cycles == int(max(res.load[0])) + PE_LATENCY + ENGINE_OVERHEAD
    return res


def test_constants_are_the_contract():
    assert LayerEngine.LATENCY == PE_LATENCY
    assert LayerEngine.OVERHEAD == ENGINE_OVERHEAD


@settings(max_examples=20)
@given(layers_and_inputs(max_in=800, max_out=24, max_entries=500, max_batch=2), ENGINE_PES, st.booleans())
def test_random_layers_bit_exact_and_cycle_exact(case, pes, unroll):
    assert_exact(*case, pes, unroll)


@settings(max_examples=8)
@given(layers_and_inputs(max_in=60, max_out=12, max_entries=300, bits=(2, 5, 16), max_batch=2), ENGINE_PES)
def test_random_widths(case, pes):
    assert_exact(*case, pes)


DIRECTED = {
    "mac": dict(kind="mac", n_in=100, n_out=9, density=0.3, n_empty=1, n_dense=1),
    "mac-extremes": dict(kind="mac", n_in=64, n_out=7, density=1.0, sign_mode="extremes"),
    "mam-negative-relu": dict(n_in=40, n_out=10, density=0.3, sign_mode="negative_products", relu=True),
    "one-dense-row-dominates": dict(n_in=300, n_out=12, density=0.01, n_dense=1),
    "fewer-rows-than-pes": dict(n_in=30, n_out=3, density=0.3, n_empty=1),
    "all-empty": dict(n_in=20, n_out=9, density=0.5, n_empty=9),
}


@pytest.mark.parametrize("pes", [3, 8])
@pytest.mark.parametrize("name", DIRECTED)
def test_directed_layers(name, pes):
    layer, x = make_layer_and_inputs(BASE | DIRECTED[name])
    assert_exact(layer, x, pes)


@pytest.mark.parametrize("pes", [2, 4, 8])
def test_rows_finishing_in_the_same_cycle_are_all_kept(pes):
    """One weight per row: every PE finishes a row every cycle, all PEs in the same cycles; no row is lost."""
    rng = np.random.default_rng(pes)
    n_out, n_in = 8 * pes + 3, 50
    w = np.zeros((n_out, n_in), dtype=np.int64)
    w[np.arange(n_out), rng.integers(0, n_in, n_out)] = rng.choice([-100, -3, 7, 127], n_out)
    layer = Layer.build(kind="mam", weight=w, bias=rng.integers(-50, 50, n_out), mult=3, shift=2, relu=False)
    x = rng.integers(-128, 128, (1, n_in))
    engine, assignments = build_layer_engine(layer, pes)
    most = []
    out = np.zeros(n_out, dtype=np.int64)

    async def testbench(ctx):
        place_inputs(ctx, engine, x[0])
        ctx.set(engine.start, 1)
        await ctx.tick()
        ctx.set(engine.start, 0)
        n = 0
        while not ctx.get(engine.done):
            most.append(sum(ctx.get(pe.result.valid) for pe in engine.pe if pe is not None))
            await ctx.tick()
            n += 1
        assert n == int(assignments[0].load.max()) + PE_LATENCY + ENGINE_OVERHEAD
        fetch_outputs(ctx, engine, out)

    sim = Simulator(engine)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert max(most) == pes and sum(most) == n_out              # all PEs store in the same cycles, every row
    assert most.count(pes) >= 8
    np.testing.assert_array_equal(out, forward(layer, x)[0])


def test_start_while_busy_is_ignored_and_done_holds():
    layer, x = make_layer_and_inputs(BASE | dict(n_in=30, n_out=10, density=0.3, batch=1))
    engine, assignments = build_layer_engine(layer, 3)
    expect = int(assignments[0].load.max()) + PE_LATENCY + ENGINE_OVERHEAD
    out = np.zeros(layer.n_out, dtype=np.int64)

    async def testbench(ctx):
        place_inputs(ctx, engine, x[0])
        for _ in range(2):
            ctx.set(engine.start, 1)
            await ctx.tick()
            for n in range(1, expect + 8):
                ctx.set(engine.start, n == 4)                  # a start while busy must not restart the run
                assert ctx.get(engine.done) == (n > expect)
                assert ctx.get(engine.busy) == (n <= expect)
                await ctx.tick()
            ctx.set(engine.start, 0)
            assert ctx.get(engine.cycles) == expect
            fetch_outputs(ctx, engine, out)
            np.testing.assert_array_equal(out, forward(layer, x)[0])

    sim = Simulator(engine)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
