"""Estimates without synthesis: cycles equal the RTL's to the cycle, block RAMs / LUT RAMs / DSPs equal Yosys's,
and an estimate of a 784-256-10 network takes well under a second."""

import dataclasses
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamhw.fpga.calibration import GRID, HELD_OUT, config_key, config_network
from mamhw.fpga.digest import _code_of, digest_sources, source_digest
from mamhw.fpga.dsp_map import Multiplier, dsp_pieces
from mamhw.fpga.estimate import (estimate, estimate_targets, format_estimate, format_side_by_side, kind_variant,
                                 magnitude_prune, random_network)
from mamhw.fpga.memory_map import map_memory, memory_blocks
from mamhw.fpga.structure import engine_options
from mamhw.fpga.targets import get_target
from mamhw.golden import ContractError, Layer
from mamhw.sim.engine_amaranth import simulate_network
from tests.strategies import networks_and_inputs


@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(networks_and_inputs(max_layers=3, max_in=40, max_width=12, max_entries=120, max_batch=1),
       st.integers(1, 4), st.sampled_from(["up5k", "ecp5-85f"]))
def test_estimated_cycles_equal_rtl_simulation(case, pes, target):
    network, x = case
    rep = estimate(network, pes, target)
    # The target's build; its DSP instances (hw/dsp.py) are the same cycles, and Amaranth's simulator cannot run them.
    options = dataclasses.replace(engine_options(get_target(target)), dsp=None)
    sim = simulate_network(network, x, pes=pes, options=options)
    assert sim.cycles.tolist() == [rep["cycles"]] * len(x)
    assert [layer["cycles"] for layer in rep["layers"]] == sim.layer_cycles[0].tolist()


def test_an_area_model_fitted_to_other_hardware_sources_is_flagged(monkeypatch):
    network = random_network([16, 8])
    rep = estimate(network, 1, "up5k")
    assert rep["model_current"] == (rep["model_sources"] == source_digest())
    monkeypatch.setattr("mamhw.fpga.estimate._hardware_digest", lambda: "not-the-fitted-sources")
    stale = estimate(network, 1, "up5k")
    assert stale["model_current"] is False
    assert "STALE" in format_estimate(stale) and ("STALE" in format_estimate(rep)) == (not rep["model_current"])
    assert "STALE" in format_side_by_side([("a", rep), ("b", stale)])


def test_estimate_of_784_256_10_takes_well_under_a_second():
    network = kind_variant(random_network([784, 256, 10]), "mam", 0.03)
    estimate(network, 4, "up5k")                          # imports and first conversion out of the way
    times = []
    for pes in (1, 4, 16):
        t = time.perf_counter()
        rep = estimate(network, pes, "ecp5-85f")
        times.append(time.perf_counter() - t)
        assert rep["cycles"] > 0 and rep["block_rams"] > 0
    print(f"784-256-10 estimate: {', '.join(f'{t * 1000:.0f} ms' for t in times)}")
    assert max(times) < 5.0                               # generous: the machine is shared


@pytest.mark.parametrize("depth, lanes, writable, family, expected", [
    # Decisions observed in Yosys 0.70 runs of the engine (memory_libmap's log).
    (16, 8, True, "ice40", ("block", 1)),                 # activation buffer bank: 128 bits > 66 for a block
    (6, 8, True, "ice40", ("logic", 0)),                  # 48 bits: cheaper in flip-flops
    (60, 14, False, "ice40", ("logic", 0)),               # ROM: 60*14/16 < 64 + emulation
    (16, 8, True, "ecp5", ("distributed", 2)),            # TRELLIS_DPR16X4 x 2 beats a DP16KD
    (0, 8, True, "ecp5", ("removed", 0)),
    (40, 0, False, "ice40", ("removed", 0)),              # every lane constant: the memory disappears
])
def test_single_memory_decisions(depth, lanes, writable, family, expected):
    m = map_memory(depth, lanes, writable, family)
    assert (m.style, m.cells) == expected


@pytest.mark.parametrize("mul, family, dsps", [
    (Multiplier(8, True, 8, True, 16), "ice40", 1),
    (Multiplier(4, True, 4, True, 8), "ice40", 0),        # an 8-bit product stays in logic on iCE40
    (Multiplier(4, True, 4, True, 8), "ecp5", 1),
    (Multiplier(33, True, 17, True, 50), "ice40", 2),     # two 16-bit slices of A; 1-bit slices go to logic
    (Multiplier(16, False, 16, False, 32), "ecp5", 1),
    (Multiplier(36, True, 20, True, 56), "ecp5", 4),
])
def test_multiplier_pieces(mul, family, dsps):
    assert dsp_pieces(mul, family)[0] == dsps


def test_memory_blocks_is_the_estimates_count():
    network = config_network(GRID[10])
    for family, target in (("ice40", "up5k"), ("ecp5", "ecp5-85f")):
        res = memory_blocks(network, 2, family, options=engine_options(get_target(target)))
        rep = estimate(network, 2, target)
        assert res["block_rams"] == rep["block_rams"] and res["lut_rams"] == rep["lut_rams"]
        assert sum(m["cells"] for m in res["memories"] if m["style"] == "block") == res["block_rams"]


def test_held_out_configurations_are_not_in_the_fit_grid():
    assert not {config_key(c) for c in GRID} & {config_key(c) for c in HELD_OUT}


def test_magnitude_pruning_keeps_the_largest_weights():
    w = np.array([[5, -7, 1, 0], [2, -3, 0, 9]])
    layer = Layer.build(kind="mam", weight=w, bias=[0, 0], mult=1, shift=0, relu=False)
    kept = magnitude_prune(layer, 3 / 8, kind="mac")
    assert kept.kind == "mac"
    assert kept.weight.tolist() == [[5, -7, 0, 0], [0, 0, 0, 9]]
    assert np.array_equal(magnitude_prune(layer, 1.0).weight, w)
    with pytest.raises(ContractError):
        magnitude_prune(layer, 1.5)


def test_mac_variant_makes_every_layer_mac_and_mam_variant_only_hidden_ones():
    net = random_network([20, 8, 4])
    assert [layer.kind for layer in kind_variant(net, "mac", 0.1)] == ["mac", "mac"]
    mam = kind_variant(net, "mam", 0.1)
    assert [layer.kind for layer in mam] == ["mam", "mac"]
    assert np.count_nonzero(mam[0].weight) == 16 and np.count_nonzero(mam[1].weight) == 32


@pytest.mark.slow
@pytest.mark.parametrize("family, target", [("ice40", "up5k"), ("ecp5", "ecp5-25f")])
# s15-p4: output narrower than input, a sparse index set: Yosys drops unread lanes and address bits of the buffers.
# p2-mix-2l, s12-p4: two and three layers, so paired buffers on the UP5K (the output in the first or second half).
@pytest.mark.parametrize("cfg", [GRID[10], GRID[13], HELD_OUT[6]] +
                         [c for c in GRID if c["name"] in ("s15-p4", "s12-p4")], ids=lambda c: c["name"])
def test_block_rams_lut_rams_and_dsps_equal_yosys(tmp_path, cfg, family, target):
    from mamhw.fpga.calibration import measured_quantities
    from mamhw.fpga.pnr import synthesize_json
    from mamhw.hw.specs import build_network_engine
    network = config_network(cfg)
    rep = estimate(network, cfg["pes"], target)
    engine, _ = build_network_engine(network, cfg["pes"], options=engine_options(get_target(target)))
    _, cells = synthesize_json(engine, family, str(tmp_path))
    got = measured_quantities({"cells": cells}, family)
    assert (rep["block_rams"], rep["lut_rams"], rep["dsps"]) == (got["block_rams"], got["lut_rams"], got["dsps"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["p1-mac-spram", "p2-mam-spram"])
def test_sprams_equal_yosys(tmp_path, name):
    """SPRAM builds: one SB_SPRAM256KA per 16 bits of entry word that the PE reads (a MAC-only engine never reads
    the dense flag, and p1-mac-spram's is alone in its slice), and the block RAMs beside them."""
    from mamhw.fpga.calibration import config_weights, measured_quantities
    from mamhw.fpga.pnr import synthesize_json
    from mamhw.hw.specs import build_network_engine
    cfg = next(c for c in GRID if c["name"] == name)
    network = config_network(cfg)
    rep = estimate(network, cfg["pes"], "up5k", weights=config_weights(cfg))
    engine, _ = build_network_engine(network, cfg["pes"], options=engine_options(get_target("up5k"), spram=True))
    _, cells = synthesize_json(engine, "ice40", str(tmp_path))
    got = measured_quantities({"cells": cells}, "ice40")
    assert rep["weights_in"] == "spram"
    assert (rep["sprams"], rep["block_rams"], rep["dsps"]) == (got["sprams"], got["block_rams"], got["dsps"])
    assert rep["sprams"] == {"p1-mac-spram": 1, "p2-mam-spram": 4}[name]


def test_the_vit_block_fits_the_up5k_with_relative_indices():
    """The ViT-B/16 MLP block at 1% on one PE: absolute indices need 6 SPRAMs (22-bit words, 47,186 entries),
    relative ones 4 (16-bit words, fillers where a step is over 127 inputs), and the estimate counts their cycles
    as the cycle model does. On two PEs the second layer reads where the first layer's PEs wrote: refused."""
    from mamhw.fpga.estimate import random_network
    from mamhw.golden.engines import cycle_model
    network = random_network([768, 3072, 768], density=0.01, kinds=["mam", "mac"], seed=0)
    rep = estimate(network, 1, "up5k")
    assert rep["fits"] and rep["weights_in"] == "spram" and rep["delta_bits"] == 7
    assert rep["sprams"] == 4 and rep["block_rams"] <= 30
    assert rep["cycles"] == cycle_model(network, 1, delta_bits=7).total > cycle_model(network, 1).total
    assert rep["fillers"] == rep["entries"] - cycle_model(network, 1).entries.sum() > 0
    assert "relative 7-bit indices" in format_estimate(rep)
    absolute = memory_blocks(network, 1, "ice40", options=engine_options(get_target("up5k"), spram=True))
    assert absolute["sprams"] == 6
    two = estimate(network, 2, "up5k")
    assert not two["fits"] and any("relative indices: layer 2's inputs lie where" in m for m in two["does_not_fit"])


def test_relative_indices_refused_for_a_dense_mam_row_with_the_reason():
    """The ViT block with one fully dense MAM row: absolute indices overflow the SPRAM and relative ones cannot
    hold that row (a filler's 0 would reach its max or min), so the estimate says it does not fit, and why."""
    from mamhw.fpga.estimate import random_network
    from mamhw.golden import Network
    network = random_network([768, 3072, 768], density=0.01, kinds=["mam", "mac"], seed=0)
    first = network[0]
    weight = first.weight.copy()
    weight[0, :] = 3
    dense = Layer.build(kind="mam", weight=weight, bias=first.bias, mult=first.mult, shift=first.shift,
                        relu=first.relu, in_bits=first.in_bits, w_bits=first.w_bits, out_bits=first.out_bits)
    rep = estimate(Network([dense, network[1]]), 1, "up5k")
    assert not rep["fits"] and rep["delta_bits"] == 0
    assert any("relative indices: entries with relative indices do not take a fully dense MAM row" in m
               for m in rep["does_not_fit"])


@pytest.mark.slow
def test_sprams_of_relative_indices_in_two_banks_equal_yosys(tmp_path):
    """Relative indices in a weight RAM deeper than one SPRAM: two banks, as Yosys counts them."""
    from mamhw.fpga.calibration import measured_quantities
    from mamhw.fpga.pnr import synthesize_json
    from mamhw.hw.specs import build_network_engine
    from tests.strategies import chain_network
    network, _ = chain_network(dict(kind="mac", n_in=600, n_out=100, density=0.3, n_empty=1))
    options = engine_options(get_target("up5k"), spram=True, delta_bits=3)
    engine, _ = build_network_engine(network, 1, options=options)
    mem = memory_blocks(network, 1, "ice40", options=options)
    _, cells = synthesize_json(engine, "ice40", str(tmp_path))
    got = measured_quantities({"cells": cells}, "ice40")
    assert (mem["sprams"], mem["block_rams"]) == (got["sprams"], got["block_rams"]) and got["sprams"] == 2


def test_fit_recovers_non_negative_coefficients():
    from mamhw.fpga.area_model import fit_linear
    rng = np.random.default_rng(1)
    rows = [{"one": 1.0, "a": float(a), "b": float(b), "y": 50 + 3 * a + 0.5 * b}
            for a, b in rng.integers(1, 100, (12, 2))]
    model = fit_linear(rows, "y", ("one", "a", "b"))
    assert np.allclose(model.coef, (50, 3, 0.5), rtol=1e-6)
    assert model.stats["loo_max_abs_rel_err"] < 1e-9
    assert model.predict({"one": 1, "a": 10, "b": 20}) == pytest.approx(90)


def test_the_hardware_digest_follows_code_not_comments_or_docstrings():
    code = _code_of(b"x = 1\n\ndef f():\n    return x\n")
    assert _code_of(b'"""A module."""\nx = 1  # one\n\n\ndef f():\n    """Docs."""\n    return x\n') == code
    assert _code_of(b"x = 2\n\ndef f():\n    return x\n") != code
    assert _code_of(b'def f():\n    """Only a docstring."""\n') == _code_of(b"def f():\n    pass\n")


def test_the_hardware_digest_covers_what_the_engine_is_built_from_and_no_more():
    files = digest_sources()
    for needed in ("hw/network.py", "hw/engine.py", "hw/pe.py", "hw/stages.py", "hw/dsp.py", "golden/encode.py",
                   "golden/assign.py", "hw/specs.py", "fpga/pnr.py"):
        assert needed in files
    for unrelated in ("hw/hostlink.py", "hw/uart.py", "hw/top.py", "model/train.py", "model/prune.py"):
        assert unrelated not in files


def test_a_design_beyond_the_fitted_configurations_is_flagged_as_extrapolated():
    inside = estimate(config_network(GRID[0]), GRID[0]["pes"], "ecp5-25f")
    assert inside["outside_fit"] == [] and "extrapolated" not in format_estimate(inside)
    big = estimate(kind_variant(random_network([784, 256, 10]), "mam", 0.03), 4, "ecp5-85f")
    assert big["outside_fit"] and all(" > " in x or " < " in x for x in big["outside_fit"])
    assert "beyond the fitted configurations" in format_estimate(big)
    assert "extrapolated" in format_side_by_side([("in", inside), ("big", big)])


# --- layers too big for a dense matrix: every estimator helper works on the CSR arrays ---------------------------

def _dense_magnitude_prune(w, density):
    """The dense rule, as magnitude pruning was first written: the round(density * size) largest magnitudes, ties
    to the lower flat index."""
    keep = int(round(density * w.size))
    order = np.argsort(-np.abs(w).ravel(), kind="stable")
    mask = np.zeros(w.size, dtype=bool)
    mask[order[:keep]] = True
    return np.where(mask.reshape(w.shape), w, 0)


def test_magnitude_pruning_on_csr_equals_the_dense_rule_ties_included():
    rng = np.random.default_rng(7)
    for _ in range(150):
        n_out, n_in = (int(v) for v in rng.integers(1, 13, 2))
        # Few distinct magnitudes, so ties at the cut are the rule, not the exception.
        w = rng.integers(-3, 4, (n_out, n_in)) * (rng.random((n_out, n_in)) < rng.random())
        layer = Layer.build(kind="mam", weight=w, bias=np.zeros(n_out, dtype=int), mult=1, shift=0, relu=False)
        for density in (0.0, 0.1, 1 / 3, 0.5, 0.9, 1.0, float(rng.random())):
            assert np.array_equal(magnitude_prune(layer, density).weight, _dense_magnitude_prune(w, density))


def test_magnitude_pruning_keeps_splits_and_relu_in_and_a_mac_layer_has_no_splits():
    w = np.arange(1, 25).reshape(3, 8) * np.array([1, -1] * 4)
    layer = Layer.build(kind="mam", weight=w, bias=[1, 2, 3], mult=3, shift=2, relu=True, splits=2, relu_in=True)
    kept = magnitude_prune(layer, 0.5)
    assert (kept.splits, kept.relu_in, kept.mult, kept.shift, kept.relu) == (2, True, 3, 2, True)
    assert kept.nnz == 12 and kept.bias.tolist() == [1, 2, 3]
    mac = magnitude_prune(layer, 0.5, kind="mac")
    assert (mac.kind, mac.splits, mac.relu_in) == ("mac", 1, True)
    whole = kind_variant([layer], "mac")[0]
    assert (whole.kind, whole.splits, whole.nnz) == ("mac", 1, 24)


def test_a_random_network_at_a_density_keeps_exactly_that_many_weights_per_layer():
    widths = [25088, 4096, 4096, 1000]                    # VGG-16's classifier: 123.8M interconnections
    net = random_network(widths, density=0.0004, seed=5)
    sizes = [a * b for a, b in zip(widths, widths[1:])]
    assert [layer.nnz for layer in net] == [round(0.0004 * s) for s in sizes]
    assert [layer.kind for layer in net] == ["mam", "mam", "mac"]
    assert [layer.shape for layer in net] == [(4096, 25088), (4096, 4096), (1000, 4096)]
    with pytest.raises(ContractError, match="too large for a dense weight matrix"):
        _ = net[0].weight                                 # the CSR arrays are all there is
    again = random_network(widths, density=0.0004, seed=5)
    other = random_network(widths, density=0.0004, seed=6)
    assert all(np.array_equal(a.indices, b.indices) and np.array_equal(a.values, b.values)
               for a, b in zip(net, again))
    assert not np.array_equal(net[1].indices, other[1].indices)
    mixed = random_network([40, 30, 20], density=[0.9, 1.0], seed=1)
    assert [layer.nnz for layer in mixed] == [1080, 600] and mixed[1].weight.all()


def test_a_random_networks_kept_positions_are_uniform():
    """Every 3 of 6 positions equally likely (the draw-until-distinct route), and every 5 of 6 (the left-out
    route): 20 and 6 subsets, 3000 seeds, each frequency within 5 standard deviations of its expectation."""
    for keep, subsets in ((3, 20), (5, 6)):
        counts = {}
        for seed in range(3000):
            layer = random_network([3, 2], density=keep / 6, seed=seed)[0]
            cols = layer.indices + 3 * layer.entry_rows()
            counts[tuple(cols.tolist())] = counts.get(tuple(cols.tolist()), 0) + 1
        assert len(counts) == subsets
        mean = 3000 / subsets
        sd = (3000 * (1 / subsets) * (1 - 1 / subsets)) ** 0.5
        assert all(abs(c - mean) < 5 * sd for c in counts.values()), counts


def test_a_random_network_beyond_the_size_limit_is_refused_before_it_is_made():
    with pytest.raises(ContractError, match="MAX_ENTRIES"):
        random_network([65536, 65536], density=0.1)
    with pytest.raises(ContractError, match="one per layer"):
        random_network([8, 4, 2], density=[0.5])


def test_variants_and_the_estimate_of_a_vgg_sized_network_need_no_dense_matrix():
    net = random_network([25088, 4096, 4096, 1000], density=0.0008, seed=2)
    mam = kind_variant(net, "mam", 0.0004, "all")
    assert [layer.kind for layer in mam] == ["mam", "mam", "mam"]
    assert [layer.nnz for layer in mam] == [41104, 6711, 1638]
    strongest = np.sort(np.abs(net[0].values))[::-1][:41104]
    assert np.array_equal(np.sort(np.abs(mam[0].values))[::-1], strongest)
    mac = kind_variant(net, "mac")
    assert [layer.kind for layer in mac] == ["mac"] * 3 and [layer.nnz for layer in mac] == [layer.nnz for layer in net]
    rep = estimate(mam, 4, "ecp5-85f")
    assert [x["weights"] for x in rep["layers"]] == [41104, 6711, 1638]
    assert rep["layers"][0]["density"] == pytest.approx(41104 / (25088 * 4096))
    assert rep["entries"] == sum(x["entries"] for x in rep["layers"]) >= 41104 + 6711 + 1638


def test_estimates_over_targets_are_the_single_estimates():
    network = kind_variant(random_network([96, 40, 10], seed=3), "mam", 0.1)
    targets = ["up5k", "ecp5-25f", "ecp5-85f"]
    for pes in (1, 3):
        assert list(estimate_targets(network, pes, targets)) == [estimate(network, pes, t) for t in targets]
