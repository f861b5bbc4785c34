"""Rows over PEs (longest processing time first) and the exact cycle model of the layer and network engines."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import Layer, PE_LATENCY, encode, pe_cycles
from mamhw.golden.assign import MAX_PES, assign, assign_rows, row_costs
from mamhw.golden.cycles import (ENGINE_OVERHEAD, NETWORK_LAYER_OVERHEAD, NETWORK_OVERHEAD, engine_cycles,
                                 network_cycles, plan_network)
from tests.strategies import layers_and_inputs, networks_and_inputs

PES = st.integers(1, MAX_PES)


@settings(max_examples=25)
@given(layers_and_inputs(max_in=800, max_out=40, max_entries=4000), PES)
def test_every_row_once_and_encodings_rebuild_the_layer(case, pes):
    layer, _ = case
    a = assign(layer, pes)
    assert a.pes == pes and len(a.rows) == len(a.encodings) == pes
    rows = np.concatenate(a.rows)
    assert sorted(rows.tolist()) == list(range(layer.n_out))
    for r, enc in zip(a.rows, a.encodings):
        assert np.all(np.diff(r) > 0)                              # each PE walks its rows in order
        assert enc.rows == r.size and enc.entries == int(row_costs(enc.row_nnz).sum())
        rebuilt = np.zeros((r.size, layer.n_in), dtype=np.int64)
        pos = np.cumsum(enc.last) - enc.last
        rebuilt[pos, enc.index] = enc.weight
        np.testing.assert_array_equal(rebuilt, layer.weight[r])
    pe, pos = a.locate()
    for p, r in enumerate(a.rows):
        assert np.all(pe[r] == p) and np.all(pos[r] == np.arange(r.size))
    assert a.entries == encode(layer).entries
    assert a.active.tolist() == [r.size > 0 for r in a.rows]


@settings(max_examples=25)
@given(layers_and_inputs(max_in=800, max_out=40, max_entries=4000), PES)
def test_balance_and_cycle_model_bounds(case, pes):
    layer, _ = case
    a = assign(layer, pes)
    cost = row_costs(np.count_nonzero(layer.weight, axis=1))
    makespan = int(a.load.max())
    even = -(-a.entries // pes)
    # The list-scheduling bound, and the trivial lower bounds.
    assert makespan <= a.entries / pes + cost.max() * (1 - 1 / pes) + 1e-9
    assert makespan >= max(even, cost.max())
    cycles = engine_cycles(a)
    assert cycles == makespan + PE_LATENCY + ENGINE_OVERHEAD
    if pes == 1:
        assert cycles == pe_cycles(encode(layer).row_nnz) + ENGINE_OVERHEAD


@settings(max_examples=25)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(1, 3))
def test_within_lpt_bound_of_the_optimum(row_nnz, pes):
    """Graham: LPT's makespan is at most (4/3 - 1/(3P)) x the optimum (found here by brute force)."""
    cost = row_costs(row_nnz)
    lpt = max(int(cost[r].sum()) for r in assign_rows(row_nnz, pes))
    best = min(max(int(cost[np.array(owner) == p].sum()) for p in range(pes))
               for owner in itertools.product(range(pes), repeat=len(cost)))
    assert lpt * 3 * pes <= (4 * pes - 1) * best


def test_deterministic_and_lpt_order():
    costs = [5, 1, 4, 4, 0, 3, 2, 2]                # row 4 is empty: one entry
    first = assign_rows(costs, 3)
    assert [r.tolist() for r in first] == [r.tolist() for r in assign_rows(costs, 3)]
    # Heaviest first to the least loaded PE: row0 (5) PE0, row2 (4) PE1, row3 (4) PE2, row5 (3) PE1 (tie with
    # PE2 at 4: the lower PE), row6 PE2, row7 PE0, row1 PE2, row4 (empty, 1 entry) PE0.
    assert [r.tolist() for r in first] == [[0, 4, 7], [2, 5], [1, 3, 6]]
    assert [int(row_costs(costs)[r].sum()) for r in first] == [8, 7, 7]


def test_more_pes_than_rows():
    layer = Layer.build(kind="mam", weight=[[1, 0], [0, 0], [3, 4]], bias=[0, 0, 0], mult=1, shift=0,
                        relu=False)
    a = assign(layer, 5)
    assert a.active.tolist() == [True, True, True, False, False]
    assert a.load.tolist() == [2, 1, 1, 0, 0]
    assert engine_cycles(a) == 2 + PE_LATENCY + ENGINE_OVERHEAD


@pytest.mark.parametrize("pes", [0, MAX_PES + 1])
def test_pes_out_of_range(pes):
    with pytest.raises(ValueError):
        assign_rows([1, 2], pes)


@settings(max_examples=20)
@given(networks_and_inputs(), PES)
def test_network_model_adds_up(case, pes):
    network, _ = case
    model = network_cycles(plan_network(network, pes))
    assert len(model.per_layer) == len(network)
    assert model.total == int(model.per_layer.sum()) + NETWORK_OVERHEAD
    assert model.per_layer.tolist() == [engine_cycles(assign(layer, pes)) + NETWORK_LAYER_OVERHEAD
                                        for layer in network]
    assert model.entries.tolist() == [encode(layer).entries for layer in network]
    assert [load.sum() for load in model.load] == model.entries.tolist()
    assert 0 < model.efficiency <= 1
