"""The window engine: bit-exact against the golden network and cycle-exact against the plan's cycle model, through
its host port, for random networks, P and windows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import Network, network_forward
from mamhw.golden import window as golden_window
from mamhw.hw.window_engine import WindowEngine
from mamhw.hw.window_pe import FINAL_LATENCY, STATE_DISTANCE
from mamhw.sim.window_amaranth import simulate_window
from tests.strategies import chain_network, networks_and_inputs

SHAPES = st.sampled_from([(1, 4), (2, 4), (4, 4), (2, 8), (4, 16), (8, 16), (4, 64)])


def assert_exact(network, x, pes, window):
    res = simulate_window(network, x, pes, window)
    np.testing.assert_array_equal(res.outputs, network_forward(Network.of(network), x))
    batch = x.shape[0]
    assert res.cycles.tolist() == [res.model_cycles] * batch
    assert res.counter.tolist() == res.cycles.tolist()
    assert res.layer_cycles.tolist() == [res.model_layer_cycles.tolist()] * batch
    return res


def test_constants_are_the_contract():
    assert STATE_DISTANCE == golden_window.STATE_DISTANCE
    assert WindowEngine.FILL == golden_window.WINDOW_FILL
    assert WindowEngine.DRAIN == golden_window.WINDOW_DRAIN
    assert WindowEngine.FINAL == FINAL_LATENCY == golden_window.FINAL_LATENCY
    assert WindowEngine.HANDOVER == golden_window.WINDOW_HANDOVER


@settings(max_examples=25, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=200, max_width=24, max_entries=250, relu_in=True), SHAPES)
def test_random_networks_bit_exact_and_cycle_exact(case, shape):
    assert_exact(*case, *shape)


@settings(max_examples=5, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=40, max_width=12, max_entries=150, bits=(3, 8, 16)),
       st.sampled_from([(1, 4), (4, 8), (2, 16)]))
def test_random_networks_mixed_widths(case, shape):
    assert_exact(*case, *shape)


def test_empty_rows_and_a_window_with_no_entries():
    # Inputs 16..31 have no kept weight at all: a window of spacers only.
    network, x = chain_network(dict(n_in=48, n_out=12, density=0.3, n_empty=3, relu=True),
                        dict(kind="mac", n_in=12, n_out=5, density=1.0))
    layer = network.layers[0]
    w = layer.weight.copy()
    w[:, 16:32] = 0
    first = type(layer).build(kind="mam", weight=w, bias=layer.bias, mult=layer.mult, shift=layer.shift, relu=True)
    network = Network([first, network.layers[1]])
    plan = golden_window.plan_window_network(network, 4, 16)[0]
    for seg in plan.segments:
        window = np.cumsum(np.concatenate([[0], seg.wend[:-1]]))
        assert seg.weight[window == 1].tolist() == [0]          # one spacer
    assert plan.durations[1] == 1
    assert_exact(network, x, 4, 16)


@pytest.mark.parametrize("pes, window", [(1, 4), (4, 16), (8, 64)])
def test_one_layer(pes, window):
    network, x = chain_network(dict(n_in=70, n_out=20, density=0.1, n_empty=2, n_dense=1))
    assert_exact(network, x, pes, window)
