"""Formal proofs of the PE with SymbiYosys and Yices (mamhw.sim.formal): they pass on the PE, fail on broken ones.

Each proof is k-induction over every value of the symbolic inputs (see the module docstring of
mamhw.sim.formal for what is symbolic and what each property says).
"""

import pytest

from mamhw.plumbing import ToolError
from mamhw.golden import Layer
from mamhw.hw.pe import PE
from mamhw.sim.formal import PEConfig, prove_pe
from tests.faulty import DropLastEntryOfRowPE, DropLastEntryOfRunPE, SeedWithFirstProductPE


def assert_proved(result):
    assert result.passed, str(result)
    assert result.status == {"prove": "PASS", "cover": "PASS"}


# Every well-formed stream of 5 entries in 2 rows of 4 inputs: rows of 1 to 4 entries, empty, pruned and dense
# rows, every weight, activation and bias value.
def test_mam_every_stream_proved(tools, tmp_path):
    cfg = PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=4, entries=5, rows=2)
    assert_proved(prove_pe(cfg, tmp_path, timeout=300))


# 3 rows (the row counter past a power of two), rows of 1 to 3 entries.
def test_mac_every_stream_proved(tools, tmp_path):
    cfg = PEConfig.symbolic(kind="mac", in_bits=4, w_bits=4, n_in=3, entries=5, rows=3)
    assert_proved(prove_pe(cfg, tmp_path, timeout=300))


# A golden layer's own encoded stream (an empty, a dense, a pruned row), with requantization, ReLU and
# saturation; activations and biases symbolic. This also holds golden.encode's `dense` bits to the contract.
def test_golden_layer_proved(tools, tmp_path):
    layer = Layer.build(kind="mam", weight=[[0, 0, 0], [3, -8, 7], [0, -5, 0], [2, 0, -1]], bias=[1, -2, 3, 0],
                        mult=3, shift=2, relu=True, in_bits=4, w_bits=4, out_bits=4)
    cfg = PEConfig.from_layer(layer)
    assert (cfg.entries, cfg.rows, cfg.stream is not None) == (7, 4, True)
    assert_proved(prove_pe(cfg, tmp_path, timeout=300))


@pytest.mark.parametrize("broken, kind, caught_by", [
    (SeedWithFirstProductPE, "mam", "a_row_value"),
    (DropLastEntryOfRunPE, "mam", "b_no_entry_skipped"),
    (DropLastEntryOfRowPE, "mac", "a_row_value"),
], ids=["seed-max-with-first-product", "drop-last-entry-of-run", "drop-last-entry-of-row"])
def test_broken_pe_fails_the_proof(tools, tmp_path, broken, kind, caught_by):
    cfg = PEConfig.symbolic(kind=kind, in_bits=4, w_bits=4, n_in=3, entries=4, rows=2)
    result = prove_pe(cfg, tmp_path, pe_class=broken, cover=False, timeout=300)
    assert not result.passed
    assert result.status == {"prove": "FAIL"}            # a real trace from reset, not an induction artefact
    assert any(f.startswith(f"{caught_by}: fails") for f in result.failures), str(result)


# Splits (mam): every stream of 4 entries in 2 rows of 4 inputs cut into 2 slices, inputs through a ReLU; and a
# golden layer with 3 slices as golden.encode gives it.
def test_split_layers_every_stream_proved(tools, tmp_path):
    cfg = PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=4, entries=4, rows=2, splits=2, relu_in=True)
    assert_proved(prove_pe(cfg, tmp_path, timeout=900))


def test_split_golden_layer_proved(tools, tmp_path):
    # 3 inputs in 3 slices of one: a row with an empty slice and pruned weights, a dense row.
    layer = Layer.build(kind="mam", weight=[[0, 2, -3], [3, -8, 7]], bias=[1, -2], mult=3, shift=2, relu=True,
                        in_bits=4, w_bits=4, out_bits=6, splits=3, relu_in=True)
    cfg = PEConfig.from_layer(layer)
    assert cfg.stream[4] != cfg.stream[2]             # slices end inside rows
    assert_proved(prove_pe(cfg, tmp_path, timeout=900))


def test_a_broken_pe_fails_the_split_proof(tools, tmp_path):
    cfg = PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=4, entries=4, rows=2, splits=2)
    result = prove_pe(cfg, tmp_path, pe_class=SeedWithFirstProductPE, cover=False, timeout=900)
    assert not result.passed and result.status == {"prove": "FAIL"}
    assert any(f.startswith("a_slice_value: fails") for f in result.failures), str(result)


# Relative indices (the running index, from 0 at each row's start): every stream of 5 entries in 2 rows of 4 inputs
# with 2-bit steps (fillers of weight 0 anywhere, no dense MAM row), every MAC stream of 5 entries in 3 rows with
# 1-bit steps (dense rows allowed), and a golden layer's stream with its fillers.
@pytest.mark.parametrize("kind, n_in, rows, delta_bits", [("mam", 4, 2, 2), ("mac", 3, 3, 1)])
def test_relative_index_streams_proved(tools, tmp_path, kind, n_in, rows, delta_bits):
    cfg = PEConfig.symbolic(kind=kind, in_bits=4, w_bits=4, n_in=n_in, entries=5, rows=rows, delta_bits=delta_bits)
    assert_proved(prove_pe(cfg, tmp_path, timeout=600))


def test_relative_index_golden_layer_proved(tools, tmp_path):
    layer = Layer.build(kind="mam", weight=[[0, 0, 0, 0, 0], [3, 0, 0, 0, 7], [0, -5, 0, 0, 0], [2, 0, -1, 0, 0]],
                        bias=[1, -2, 3, 0], mult=3, shift=2, relu=True, in_bits=4, w_bits=4, out_bits=4)
    cfg = PEConfig.from_layer(layer, delta_bits=1)
    assert cfg.stream[0] == (0, 3, 0, 0, 0, 7, -5, 2, 0, -1)       # three fillers between 3 and 7, one after 2
    assert_proved(prove_pe(cfg, tmp_path, timeout=600))


def test_a_dense_mam_row_with_relative_indices_fails_the_proof(tools, tmp_path):
    # Why golden.encode refuses it: the narrow entries have no dense flag, so 0 competes in every MAM row.
    cfg = PEConfig.from_stream(kind="mam", in_bits=4, w_bits=4, out_bits=9, n_in=2, weight=[2, 3, 0],
                               index=[0, 1, 0], last=[0, 1, 1], dense=[0, 0, 0], delta_bits=1)
    result = prove_pe(cfg, tmp_path, cover=False, timeout=300)
    assert result.status == {"prove": "FAIL"}
    assert any(f.startswith("a_row_value: fails") for f in result.failures), str(result)


def test_a_broken_pe_fails_the_relative_index_proof(tools, tmp_path):
    cfg = PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=3, entries=4, rows=2, delta_bits=1)
    result = prove_pe(cfg, tmp_path, pe_class=SeedWithFirstProductPE, cover=False, timeout=300)
    assert result.status == {"prove": "FAIL"}
    assert any(f.startswith("a_row_value: fails") for f in result.failures), str(result)


class CompactPE(PE):
    """The PE with the compact running max/min (``unroll=False``: ~80 flip-flops fewer per PE, a slower clock)."""

    def __init__(self, **params):
        super().__init__(**params | {"unroll": False})


def test_compact_fold_proved(tools, tmp_path):
    cfg = PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=3, entries=4, rows=2)
    assert_proved(prove_pe(cfg, tmp_path, pe_class=CompactPE, timeout=300))


def test_the_same_harness_proves_the_real_pe(tools, tmp_path):
    # The configuration the broken PEs fail on, so their failures are theirs and not the harness's.
    cfg = PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=3, entries=4, rows=2)
    result = prove_pe(cfg, tmp_path, cover=False, timeout=300)
    assert result.passed, str(result)


def test_missing_tool_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SBY", "no-such-sby")
    cfg = PEConfig.symbolic(kind="mam", in_bits=2, w_bits=2, n_in=2, entries=2, rows=1)
    with pytest.raises(ToolError, match=r"^no-such-sby not found \(set SBY") as info:
        prove_pe(cfg, tmp_path)
    assert "\n" not in str(info.value)


def test_impossible_size_is_refused():
    with pytest.raises(ValueError, match="no well-formed stream"):
        PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=2, entries=5, rows=2)
    with pytest.raises(ValueError, match="relative indices do not take slices"):
        PEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, n_in=4, entries=4, rows=2, splits=2, delta_bits=2)


def test_the_engines_build_the_proven_pe():
    from mamhw.fpga.structure import silence
    from mamhw.golden import Network
    from mamhw.hw.specs import build_network_engine
    from mamhw.sim.formal_harness import FormalHarness
    from mamhw.sim.pe_amaranth import build_pe
    layer = Layer.build(kind="mam", weight=[[0, 2, 0], [3, -8, 7], [0, -5, 0], [2, 0, -1]], bias=[1, -2, 3, 0],
                        mult=3, shift=2, relu=True)
    out = Layer.build(kind="mac", weight=[[1, 0, 2, -1], [0, 3, 0, 1]], bias=[0, 1], mult=1, shift=0, relu=False)
    engine, _ = build_network_engine(Network([layer, out]), 3)
    single = build_pe(layer)
    harness = FormalHarness(PEConfig.from_layer(layer))
    silence([engine, single, harness])                # built to be inspected, never elaborated
    assert {type(pe) for pe in engine.engine.pe if pe is not None} == {PE}
    assert type(single.pe) is PE
    assert type(harness.pe).__mro__[2] is PE          # the harness only adds observation wires over the PE


@pytest.mark.parametrize("fault", ["drop-last-entry-of-run", "drop-last-entry-of-row"])
def test_a_broken_pe_injected_into_the_engine_breaks_its_outputs(monkeypatch, fault):
    # The proofs above fail these PEs; built into the engine in the PE's place, they give wrong outputs too.
    import numpy as np

    import mamhw.hw.engine
    from mamhw.golden import forward
    from mamhw.sim.engine_amaranth import simulate_network
    from tests.faulty import FAULTS
    monkeypatch.setattr(mamhw.hw.engine, "PE", FAULTS[fault])
    layer = Layer.build(kind="mam", weight=[[3, 0, 2, 0], [-5, 4, 0, 7], [0, 0, 0, 6], [1, 2, 3, 4]],
                        bias=[0, 0, 0, 0], mult=1, shift=0, relu=False, out_bits=16)
    x = np.array([[-9, 5, -7, 3], [10, -3, 8, -2]])
    try:
        res = simulate_network(layer, x, pes=2)
    except RuntimeError as e:                     # a run that never ends is caught too
        assert "no `done` within" in str(e)
        return
    assert not np.array_equal(res.outputs, forward(layer, x))
