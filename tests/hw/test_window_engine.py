"""The window engine: bit-exact against the golden network and cycle-exact against the cycle model for each
sample's inputs (zero skipping makes timing data-dependent), through its host port, for random networks, inputs
with and without zeros, P and windows."""

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


def assert_exact(network, x, pes, window, group=None, split=None):
    res = simulate_window(network, x, pes, window, group=group, split=split)
    np.testing.assert_array_equal(res.outputs, network_forward(Network.of(network), x))
    assert res.cycles.tolist() == res.model_cycles.tolist()
    assert res.counter.tolist() == res.cycles.tolist()
    assert res.layer_cycles.tolist() == res.model_layer_cycles.tolist()
    assert np.all(res.cycles <= res.model.total)                   # the model's worst case bounds every sample
    return res


def test_constants_are_the_contract():
    assert STATE_DISTANCE == golden_window.STATE_DISTANCE
    assert WindowEngine.FILL == golden_window.WINDOW_FILL
    assert WindowEngine.MIN_WINDOW == golden_window.MIN_WINDOW
    assert WindowEngine.DRAIN == golden_window.WINDOW_DRAIN
    assert WindowEngine.FINAL == FINAL_LATENCY == golden_window.FINAL_LATENCY
    assert WindowEngine.HANDOVER == golden_window.WINDOW_HANDOVER


@settings(max_examples=25, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=200, max_width=24, max_entries=250, relu_in=True), SHAPES,
       st.sampled_from((None,) + golden_window.GROUP_SIZES))
def test_random_networks_bit_exact_and_cycle_exact(case, shape, group):
    assert_exact(*case, *shape, group)


@settings(max_examples=5, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=40, max_width=12, max_entries=150, bits=(3, 8, 16)),
       st.sampled_from([(1, 4), (4, 8), (2, 16)]))
def test_random_networks_mixed_widths(case, shape):
    assert_exact(*case, *shape)


def test_empty_rows_and_a_window_with_no_entries():
    # Inputs 16..31 have no kept weight at all: a window of one empty group per PE.
    network, x = chain_network(dict(n_in=48, n_out=12, density=0.3, n_empty=3, relu=True),
                        dict(kind="mac", n_in=12, n_out=5, density=1.0))
    layer = network.layers[0]
    w = layer.weight.copy()
    w[:, 16:32] = 0
    first = type(layer).build(kind="mam", weight=w, bias=layer.bias, mult=layer.mult, shift=layer.shift, relu=True)
    network = Network([first, network.layers[1]])
    plan = golden_window.plan_window_network(network, 4, 16)[0]
    for seg in plan.segments:
        assert seg.weight[seg.group_window == 1].tolist() == [[0] * seg.group]
    assert plan.durations[1] == golden_window.MIN_WINDOW
    assert_exact(network, x, 4, 16)


@pytest.mark.parametrize("relu_in", [False, True])
def test_dense_mam_rows_see_a_skipped_zero(relu_in):
    # Dense MAM rows (every weight kept) whose max or min hinge on the product 0 of a skipped zero activation, or
    # of a negative one that the input ReLU makes 0: all-positive products but one zero, all-negative but one.
    from mamhw.golden import Layer
    rng = np.random.default_rng(3)
    w = rng.integers(1, 100, (6, 20))
    w[3:] = -w[3:]
    layer = Layer.build(kind="mam", weight=w, bias=[0] * 6, mult=1, shift=4, relu=False, out_bits=16,
                        **({"relu_in": True} if relu_in else {}))
    x = rng.integers(1, 100, (4, 20))
    x[1, 7] = -5 if relu_in else 0                      # one zero (after the ReLU) among positives
    x[2, :10] = 0                                       # many
    res = assert_exact(Network([layer]), x, 2, 8)
    assert res.cycles[2] < res.cycles[0] == res.model.total    # skipping took cycles off, none when no zero


def test_an_all_zero_input_skips_every_entry():
    network, x = chain_network(dict(n_in=64, n_out=16, density=0.3, n_dense=2, relu=True),
                               dict(kind="mac", n_in=16, n_out=4, density=0.5))
    x[:] = 0
    res = assert_exact(network, x, 4, 16)
    plan = golden_window.plan_window_network(network, 4, 16)[0]
    # Every group takes one cycle, every window at least MIN_WINDOW.
    longest = np.max([np.bincount(seg.group_window, minlength=plan.n_windows) for seg in plan.segments], axis=0)
    assert res.layer_cycles[0, 0] == plan.fixed_cycles + np.maximum(longest, golden_window.MIN_WINDOW).sum()


@pytest.mark.parametrize("group", golden_window.GROUP_SIZES)
@pytest.mark.parametrize("kind", ["mam", "mac"])
@pytest.mark.parametrize("rows", [1, 2, 3, 4])
def test_entries_of_one_row_back_to_back(kind, rows, group):
    # A dense layer of `rows` rows on one PE: entries of one row every `rows` cycles, so the state of the entry 1,
    # 2 or 3 issues before is not yet written and comes from the PE's pipeline; 4 is the first read from memory.
    # Outputs 16 bits wide and not scaled: every product counts.
    from mamhw.golden import Layer
    rng = np.random.default_rng(rows)
    w = rng.integers(1, 100, (rows, 16)) * rng.choice([-1, 1], (rows, 16))
    layer = Layer.build(kind=kind, weight=w, bias=[0] * rows, mult=1, shift=0, relu=False, out_bits=16)
    x = rng.integers(-100, 100, (3, 16))
    x[1, ::5] = 0
    assert_exact(Network([layer]), x, 1, 8, group)


@pytest.mark.parametrize("pes, split", [(2, 2), (4, 2), (4, 4), (8, 2), (8, 8)])
@pytest.mark.parametrize("kinds", [("mam", "mam"), ("mam", "mac")])
def test_split_rows(pes, split, kinds):
    # Every layer's rows split in `split` parts: a dense MAM row (its parts see a skipped zero or not), empty rows,
    # an input narrower than some parts (a part with no entry joins nothing), the last layer read back through the
    # teams' lanes; and inputs with zeros and without.
    network, x = chain_network(dict(kind=kinds[0], n_in=6, n_out=11, density=0.6, n_empty=2, n_dense=2, relu=True),
                               dict(kind=kinds[1], n_in=11, n_out=5, density=0.8, n_dense=1))
    x[0] = np.where(x[0] == 0, 1, x[0])
    x[1, ::2] = 0
    plans = golden_window.plan_window_network(network, pes, 16, split=split)
    assert [p.split for p in plans] == [split, split] and plans[0].merge == split.bit_length() - 1
    assert_exact(network, x, pes, 16, split=split)


@pytest.mark.parametrize("split", [4, 8])
def test_split_dense_rows_whose_parts_have_no_entry(split):
    # 3 inputs in 4 or 8 parts on as many PEs (one team): parts 3 and up have no entry of the dense rows, whose
    # products are all positive (row 0) or all negative (row 1): a part with nothing must not let 0 join their max
    # and min. Row 2 has a pruned weight, so 0 joins it.
    from mamhw.golden import Layer
    layer = Layer.build(kind="mam", weight=[[3, 5, 7], [-2, -4, -6], [4, 0, 9]], bias=[0, 0, 0], mult=1, shift=0,
                        relu=False, out_bits=16)
    x = np.array([[1, 2, 3], [5, 0, 7], [0, 0, 0]])
    (plan,) = golden_window.plan_window_network(Network([layer]), split, 16, split=split)
    assert [seg.kept for seg in plan.segments] == [3, 2, 3] + [0] * (split - 3)
    assert_exact(Network([layer]), x, split, 16, split=split)


def test_split_sums_wider_than_their_parts():
    # A dense MAC row of 8 largest weights in 4 parts: each part's sum fits 17 bits, the row's needs 18; the
    # merge's width is the whole row's.
    from mamhw.golden import Layer
    layer = Layer.build(kind="mac", weight=[[127] * 8, [-127] * 8], bias=[0, 0], mult=1, shift=10, relu=False)
    x = np.array([[127] * 8, [-128] * 8, [127, -128] * 4])
    assert_exact(Network([layer]), x, 4, 16, split=4)


@pytest.mark.parametrize("pes, window", [(1, 4), (4, 16), (8, 64)])
def test_one_layer(pes, window):
    network, x = chain_network(dict(n_in=70, n_out=20, density=0.1, n_empty=2, n_dense=1))
    assert_exact(network, x, pes, window)
