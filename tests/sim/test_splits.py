"""Layers with splits (max + min per slice of the inputs, summed) and relu_in, as mamtorch builds them: bit-exact
against a reference written here, through golden and every simulation backend, cycles equal to the model."""

import numpy as np
import pytest
from hypothesis import given, settings

from mamhw.golden import Layer, Network, forward, network_forward
from mamhw.rtl import BACKENDS, run_rtl
from mamhw.sim.engine_amaranth import simulate_network
from mamhw.sim.pe_amaranth import simulate_pe
from tests.strategies import layers_and_inputs, networks_and_inputs


def reference(w, b, x, *, splits, relu_in, mult, shift, relu, out_bits):
    """The contract, one output at a time: slices of ceil(in / splits) inputs; in each, max + min over every
    input, a pruned weight a product 0 that competes, unless the slice has no pruned weight."""
    n_out, n_in = w.shape
    width = -(-n_in // splits)
    y = np.zeros((x.shape[0], n_out), dtype=np.int64)
    for s, xs in enumerate(x):
        xs = [max(int(v), 0) if relu_in else int(v) for v in xs]
        for j in range(n_out):
            a = 0
            for lo in range(0, n_in, width):
                cols = range(lo, min(lo + width, n_in))
                products = [int(w[j, i]) * xs[i] for i in cols if w[j, i] != 0]
                if len(products) < len(cols):
                    products.append(0)                 # the pruned weights' product competes
                a += max(products) + min(products)
            q = ((a + int(b[j])) * mult + ((1 << (shift - 1)) if shift else 0)) >> shift
            q = max(q, 0) if relu else q
            y[s, j] = min(max(q, -(1 << (out_bits - 1))), (1 << (out_bits - 1)) - 1)
    return y


def split_network(splits, relu_in, seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = 13, 6
    w = rng.integers(-7, 8, (n_out, n_in)) * (rng.random((n_out, n_in)) < 0.45)
    w[1] = rng.integers(1, 7, n_in)                     # a dense row: dense slices, no zero seeding
    w[2, :5] = 0                                        # an empty first slice
    w[3] = 0                                            # an empty row
    w[4, 5:] = rng.integers(-7, 0, n_in - 5)            # dense later slices, all-negative weights
    params = dict(mult=37, shift=5, relu=False, out_bits=8)
    hidden = Layer.build(kind="mam", weight=w, bias=rng.integers(-300, 300, n_out), splits=splits, relu_in=relu_in,
                         **params)
    out = Layer.build(kind="mac", weight=rng.integers(-3, 4, (3, n_out)), bias=[1, -2, 0], mult=1, shift=1,
                      relu=False)
    x = rng.integers(-128, 128, (4, n_in))
    x[0, :4] = 0                                        # zero activations in a dense slice
    return hidden, out, x, w, params


@pytest.mark.parametrize("splits", [2, 3])
@pytest.mark.parametrize("relu_in", [False, True])
def test_golden_equals_the_reference(splits, relu_in):
    hidden, _, x, w, params = split_network(splits, relu_in, 1)
    np.testing.assert_array_equal(forward(hidden, x), reference(w, hidden.bias, x, splits=splits, relu_in=relu_in,
                                                                **params))


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("splits", [2, 3])
def test_every_backend_is_bit_exact_on_split_layers(backend, splits):
    hidden, out, x, w, params = split_network(splits, splits == 3, 2)
    network = Network([hidden, out])
    ref = reference(w, hidden.bias, x, splits=splits, relu_in=splits == 3, **params)
    np.testing.assert_array_equal(forward(hidden, x), ref)
    run = run_rtl(network, x, pes=2, backend=backend)
    np.testing.assert_array_equal(run.outputs, network_forward(network, x))
    assert run.cycles.tolist() == [run.model.total] * len(x)


@settings(max_examples=30, deadline=None)
@given(layers_and_inputs(max_in=60, max_out=8, kinds=("mam",), max_entries=300, max_splits=5, relu_in=True))
def test_random_split_layers_on_the_pe(case):
    layer, x = case
    res = simulate_pe(layer, x)
    np.testing.assert_array_equal(res.outputs, forward(layer, x))
    assert res.cycles.tolist() == [res.model_cycles] * len(x)


@settings(max_examples=20, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=40, max_width=12, max_entries=150, max_splits=4, relu_in=True))
def test_random_split_networks_on_the_engine(case):
    network, x = case
    for pes in (1, 3):
        res = simulate_network(network, x, pes=pes)
        np.testing.assert_array_equal(res.outputs, network_forward(network, x))
        assert res.matches_model


def test_an_estimate_of_a_split_network_says_it_is_beyond_the_fitted_designs():
    from mamhw.fpga.estimate import estimate
    hidden, out, x, _, _ = split_network(2, True, 3)
    rep = estimate(Network([hidden, out]), 2, "up5k")
    assert "splits or relu_in" in rep["outside_fit"]
    plain = Layer.build(kind="mam", weight=hidden.weight, bias=hidden.bias, mult=hidden.mult, shift=hidden.shift,
                        relu=hidden.relu)
    assert "splits or relu_in" not in estimate(Network([plain, out]), 2, "up5k")["outside_fit"]
