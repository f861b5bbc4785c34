"""Formal proofs of the window engine's PE with SymbiYosys and Yices (mamhw.sim.formal.prove_window_pe): they pass
on the PE, fail on broken ones.

Each proof is k-induction over every value of the symbolic inputs: every stream of groups of its size (any
windows, rows and empty slots), every zero mask, biases and dense flags, and activations, and with merge steps every
part a partner PE can send and any active steps (see the module docstring of mamhw.sim.window_formal_harness for
what is assumed and what each property says).
"""

from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Mux, Signal

from mamhw.golden import Layer, forward
from mamhw.golden import window as golden_window
from mamhw.hw import window_pe
from mamhw.hw.window_pe import WindowPE
from mamhw.sim import window_formal_harness as harness
from mamhw.sim.formal import WindowPEConfig, layer_depth, prove_window_pe
from tests.faulty import (WINDOW_FAULTS, FirstFoldIgnoresTouchedWindowPE, ForgetPrunedZeroWindowPE,
                          IgnoreZeroSeenWindowPE, LateStateWriteWindowPE, StaleMaskWindowPE)


def assert_proved(result):
    assert result.passed, str(result)
    assert result.status == {"prove": "PASS", "cover": "PASS"}
    assert result.depth == 12


# Every stream of 6 groups (24 slots) in 3 local rows of a window of 4: 1 to 6 windows, empty slots anywhere, rows
# touched 0 to 24 times (entries of one row back to back included: the PE forwards its state); every weight,
# column, zero mask, activation, bias and dense flag, so every pattern of skipped entries.
@pytest.mark.parametrize("kind", ["mam", "mac"])
def test_every_stream_proved(tools, tmp_path, kind):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=4, w_bits=4, rows=3, groups=6)
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


# Groups of 8: every stream of 3 groups (24 slots) in 3 local rows, as above; up to 8 candidates in the head.
@pytest.mark.parametrize("kind", ["mam", "mac"])
def test_groups_of_8_proved(tools, tmp_path, kind):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=4, w_bits=4, rows=3, groups=3, group=8)
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


# Requantization with a multiplier, rounding, ReLU and saturation, and biases wide enough that the value takes
# the requantization's adder tree beyond the DSP's 16 bits.
def test_requantization_proved(tools, tmp_path):
    cfg = WindowPEConfig.symbolic(kind="mam", in_bits=4, w_bits=4, rows=2, groups=5, bias_bits=20, out_bits=5,
                                  mult=3, shift=2, relu=True)
    assert cfg.pe_params()["v_shape"].width > 17
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


# The PE of an engine with both kinds of layers (both folds, the kind chosen by its register), on each kind; and
# a window of 8.
@pytest.mark.parametrize("kind", ["mam", "mac"])
def test_pe_of_both_kinds_proved(tools, tmp_path, kind):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=5, window=8, both_kinds=True)
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


BROKEN = [(FirstFoldIgnoresTouchedWindowPE, "mam", "a_state"),
          (ForgetPrunedZeroWindowPE, "mam", "b_result_value"),
          (LateStateWriteWindowPE, "mac", "a_state"),
          (IgnoreZeroSeenWindowPE, "mam", "b_result_value"),
          (StaleMaskWindowPE, "mam", "c_issue_pointer")]


@pytest.mark.parametrize("broken, kind, caught_by", BROKEN,
                         ids=["first-fold-ignores-touched", "forget-pruned-zero", "late-state-write",
                              "ignore-zero-seen", "stale-mask"])
def test_broken_pe_fails_the_proof(tools, tmp_path, broken, kind, caught_by):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=4)
    proof = prove_window_pe(cfg, tmp_path / "prove", pe_class=broken, cover=False, timeout=600)
    assert not proof.passed
    assert any(f.startswith(f"{caught_by}: ") for f in proof.failures), str(proof)
    # A bounded check through one whole layer from reset finds the bug as a real trace (the induction's base case
    # is 12 cycles, shorter than a layer, so a wrong result fails only its step there).
    bmc = prove_window_pe(cfg, tmp_path / "bmc", pe_class=broken, mode="bmc", depth=layer_depth(cfg),
                          cover=False, timeout=600)
    assert bmc.status == {"bmc": "FAIL"}
    assert any(f.startswith(f"{caught_by}: fails at cycle") for f in bmc.failures), str(bmc)


# Merge steps (a split row's parts joined over the team, M = 1): PE 0 receives, its step active or not as each layer
# says, any well-formed part from its partner in each row's step; PE 1 sends its part on unchanged (``b_part``).
@pytest.mark.parametrize("kind, index", [("mam", 0), ("mac", 0), ("mac", 1)],
                         ids=["mam-receiver", "mac-receiver", "mac-sender"])
def test_merge_step_proved(tools, tmp_path, kind, index):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=4, index=index, merge=1)
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


# Two merge steps: PE 0 receives at both; PE 2 receives at step 0 and sends the joined part at step 1.
@pytest.mark.parametrize("kind, index", [("mam", 0), ("mac", 2)], ids=["mam-receiver", "mac-receiver-sender"])
def test_two_merge_steps_proved(tools, tmp_path, kind, index):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=4, index=index, merge=2)
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


# The merge of a PE of both kinds (its join chosen by the kind register), on each kind.
@pytest.mark.parametrize("kind", ["mam", "mac"])
def test_merge_step_of_both_kinds_proved(tools, tmp_path, kind):
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=4, both_kinds=True, merge=1)
    assert_proved(prove_window_pe(cfg, tmp_path, timeout=600))


class JoinIgnoresTouchedWindowPE(WindowPE):
    """Joins two parts as if both were touched: an untouched part's 0s join the max and min."""

    def _joined(self, out, own, other, mac):
        return [out.touched.eq(own.touched | other.touched), out.hi.eq(Mux(own.hi > other.hi, own.hi, other.hi)),
                out.lo.eq(Mux(own.lo < other.lo, own.lo, other.lo))]


class StalePartnerWindowPE(WindowPE):
    """Joins the part its partner sent a cycle before (a register too many on the way), the row before's."""

    def _joined(self, out, own, other, mac):
        held = Signal(self.part_shape, name="stale_partner")
        return [held.eq(other)] + super()._joined(out, own, held, mac)


@pytest.mark.parametrize("broken, kind", [(JoinIgnoresTouchedWindowPE, "mam"), (StalePartnerWindowPE, "mac")],
                         ids=["join-ignores-touched", "stale-partner"])
def test_broken_merge_fails_the_proof(tools, tmp_path, broken, kind):
    # The receiver's own part is right (b_part holds); its result is not.
    cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=4, merge=1)
    proof = prove_window_pe(cfg, tmp_path / "prove", pe_class=broken, cover=False, timeout=600)
    assert not proof.passed
    assert any(f.startswith("b_result_value: ") for f in proof.failures), str(proof)
    bmc = prove_window_pe(cfg, tmp_path / "bmc", pe_class=broken, mode="bmc", depth=layer_depth(cfg),
                          cover=False, timeout=600)
    assert bmc.status == {"bmc": "FAIL"}
    assert any(f.startswith("b_result_value: fails at cycle") for f in bmc.failures), str(bmc)


def test_the_same_harness_proves_the_real_pe(tools, tmp_path):
    # The configuration the broken PEs fail on (both kinds), so their failures are theirs and not the harness's.
    for kind in ("mam", "mac"):
        cfg = WindowPEConfig.symbolic(kind=kind, in_bits=3, w_bits=3, rows=2, groups=4)
        result = prove_window_pe(cfg, tmp_path / kind, cover=False, timeout=600)
        assert result.passed, str(result)


def test_the_harness_timing_is_the_contract():
    from mamhw.fpga.structure import silence
    # The harness's timeline is the plan's and the PE's, not constants of its own.
    assert harness.STATE_DISTANCE == golden_window.STATE_DISTANCE == window_pe.STATE_DISTANCE
    assert harness.FINAL_LATENCY == golden_window.FINAL_LATENCY == window_pe.FINAL_LATENCY
    assert harness.FIN_AFTER == golden_window.WINDOW_DRAIN + 1
    # A merge step adds a cycle to the PE's results and to a layer.
    cfg = WindowPEConfig.symbolic(kind="mac", in_bits=3, w_bits=3, rows=2, groups=4, merge=1)
    pe = WindowPE(**cfg.pe_params())
    silence(pe)                                         # built to be inspected, never elaborated
    assert pe.final_latency == harness.FINAL_LATENCY + 1
    assert layer_depth(cfg) == layer_depth(replace(cfg, merge=0)) + 1
    with pytest.raises(ValueError, match="active merge steps"):
        WindowPEConfig.symbolic(kind="mac", in_bits=3, w_bits=3, rows=2, groups=4, merge=1, merge_active=2)


def test_the_engine_builds_the_proven_pe():
    from mamhw.fpga.structure import silence
    from mamhw.golden import Network
    from mamhw.hw.window_engine import WindowEngine
    layer = Layer.build(kind="mam", weight=[[0, 2, 0], [3, -8, 7], [0, -5, 0], [2, 0, -1]], bias=[1, -2, 3, 0],
                        mult=3, shift=2, relu=True)
    out = Layer.build(kind="mac", weight=[[1, 0, 2, -1], [0, 3, 0, 1]], bias=[0, 1], mult=1, shift=0, relu=False)
    engine = WindowEngine(golden_window.plan_window_network(Network([layer, out]), 2, 4))
    proved = harness.WindowFormalHarness(WindowPEConfig.symbolic(kind="mam", in_bits=3, w_bits=3, rows=2,
                                                                 groups=4))
    silence([engine, proved])                           # built to be inspected, never elaborated
    assert {type(pe) for pe in engine.pe} == {WindowPE}
    assert type(proved.pe).__mro__[2] is WindowPE      # the harness only adds observation wires over the PE


@pytest.mark.parametrize("fault", sorted(WINDOW_FAULTS))
def test_a_broken_pe_injected_into_the_engine_breaks_its_outputs(monkeypatch, fault):
    # The proofs above fail these PEs; built into the window engine in the PE's place, they give wrong outputs too:
    # a dense row of negative products (a first fold into 0), a pruned row of positive products (0 joins the min),
    # rows of several entries in one window (a late write is read too early), a dense row of negative products
    # that skips a zero activation (the zero product is lost), the window's first group screened with the mask of
    # the window before (entries of activations that are not zero skipped).
    import mamhw.hw.window_engine
    from mamhw.sim.window_amaranth import simulate_window
    monkeypatch.setattr(mamhw.hw.window_engine, "WindowPE", WINDOW_FAULTS[fault])
    layer = Layer.build(kind="mam", weight=[[1, 1, 1, 1], [-2, 0, -3, 0], [0, 4, 0, -1]], bias=[0, 1, -1],
                        mult=1, shift=0, relu=False, out_bits=16)
    x = np.array([[-3, -2, -5, -1], [3, 2, 5, 1], [-3, 0, -5, -1]])
    res = simulate_window(layer, x, 1, 4)
    assert not np.array_equal(res.outputs, forward(layer, x))
