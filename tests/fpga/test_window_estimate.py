"""The window engine's estimate: cycles equal its simulation's, block RAMs / LUT RAMs / DSPs equal Yosys's."""

import numpy as np
import pytest

from mamhw.fpga.estimate import estimate, format_estimate, random_network
from mamhw.fpga.targets import get_target
from mamhw.golden import ContractError, network_forward
from mamhw.sim.window_amaranth import simulate_window


def test_estimated_cycles_equal_rtl_simulation():
    # The estimate is the most: the cycles with no activation zero, which inputs without one take exactly;
    # inputs with zeros take fewer.
    network = random_network([90, 24], density=0.2, kinds=["mam"], seed=3)
    x = np.random.default_rng(0).integers(1, 128, (2, 90)) * np.array([[1], [-1]])
    x = np.concatenate([x, np.where(np.arange(90) % 3 == 0, 0, x[:1])])
    rep = estimate(network, 4, "ecp5-85f", engine="window", window=16)
    res = simulate_window(network, x, 4, 16)
    np.testing.assert_array_equal(res.outputs, network_forward(network, x))
    assert rep["cycles"] == res.model.total == res.cycles[0] == res.cycles[1] > res.cycles[2]
    assert res.matches_model
    assert [L["cycles"] for L in rep["layers"]] == res.layer_cycles[0].tolist()
    assert rep["entries"] == network.layers[0].nnz
    text = format_estimate(rep)
    assert "window, W = 16" in text


def test_logic_and_fmax_come_from_the_window_engines_own_model():
    """LUTs, flip-flops, logic cells and Fmax of the window engine: its own fitted model (family key
    "ecp5-window"), applied to its features; without that model they are n/a, never the row engine's."""
    from mamhw.fpga.area_model import AreaModel, load_model
    from mamhw.fpga.window_estimate import WINDOW_FEATURES, model_family
    network = random_network([64, 32, 10], density=0.1, kinds=["mam", "mac"], seed=0)
    rep = estimate(network, 8, "ecp5-85f", engine="window", window=32)
    area = load_model()
    assert area.has(model_family("ecp5"), "luts") and area.has(model_family("ice40"), "luts")
    feats = rep["features"]
    assert set(WINDOW_FEATURES) <= set(feats) and feats["pes"] == 8 and feats["dsps"] == rep["dsps"] > 0
    assert rep["luts"] == round(area.predict("ecp5-window", "luts", feats)) > 0
    assert rep["fmax_mhz"] == round(area.fmax("ecp5-window", feats), 1) > 0
    from mamhw.fpga.digest import WINDOW_ROOTS, source_digest
    assert rep["model_current"] == (rep["model_sources"] == source_digest(WINDOW_ROOTS))
    assert ("STALE" in format_estimate(rep)) == (not rep["model_current"])
    text = format_estimate(rep)
    assert f"~{rep['luts']:,}" in text and f"~{rep['fmax_mhz']:.1f} MHz" in text
    bare = estimate(network, 8, "ecp5-85f", engine="window", window=32, model=AreaModel({"families": {}}))
    assert bare["luts"] is bare["fmax_mhz"] is None
    assert "no calibration of the window engine" in format_estimate(bare)


def test_spram_weights_are_refused():
    network = random_network([20, 8], density=0.5, seed=1)
    with pytest.raises(ContractError, match="block RAM"):
        estimate(network, 2, "up5k", engine="window", window=4, weights="spram")


@pytest.mark.slow
@pytest.mark.parametrize("family, target", [("ice40", "up5k"), ("ecp5", "ecp5-85f")])
@pytest.mark.parametrize("shape, density, pes, window", [([300, 64, 10], 0.05, 4, 16), ([64, 40, 20, 8], 0.2, 2, 8)])
def test_block_rams_lut_rams_and_dsps_equal_yosys(tmp_path, family, target, shape, density, pes, window):
    from mamhw.fpga.calibration import measured_quantities
    from mamhw.fpga.pnr import synthesize_json
    from mamhw.hw.dsp import FAMILY_DSP
    from mamhw.hw.engines import build_window_engine
    network = random_network(shape, density=density, kinds=["mam"] * (len(shape) - 2) + ["mac"], seed=2)
    rep = estimate(network, pes, target, engine="window", window=window)
    engine, _ = build_window_engine(network, pes, window, dsp=FAMILY_DSP[family])
    _, cells = synthesize_json(engine, family, str(tmp_path))
    got = measured_quantities({"cells": cells}, family)
    assert (rep["block_rams"], rep["lut_rams"], rep["dsps"]) == (got["block_rams"], got["lut_rams"], got["dsps"])
    logic = rep["logic_cells"] or rep["luts"]              # calibrated: an overflow is a misfit too
    assert rep["dsps"] == 2 * pes and rep["fits"] == (rep["block_rams"] <= get_target(target).bram_blocks
                                                      and logic <= get_target(target).luts)


def test_a_lane_written_one_activation_at_a_time_maps_each_activation_to_its_own_lut_rams():
    """A lane of two 6-bit activations, each with its own write enable: the ECP5's 4-bit LUT RAMs (one enable per
    cell) take two cells per activation, 4 in all, not the 3 that 12 bits would take as one word."""
    from mamhw.fpga.memory_map import map_memory
    assert map_memory(14, 12, True, "ecp5").cells == 3
    assert map_memory(14, 12, True, "ecp5", granule=6).cells == 4
    assert map_memory(14, 16, True, "ecp5", granule=8).cells == 4          # granules the cells divide: the same


def test_a_multiply_by_a_constant_is_logic_not_a_dsp():
    """A variable part select of 12-bit elements is a multiply by the constant 12 in RTLIL: Yosys makes it
    shifts and adds, so it takes no DSP (one of the grid's designs counted 28 DSPs for Yosys's 8 before)."""
    from mamhw.fpga.dsp_map import rtlil_multipliers
    cell = ("  cell $mul $1\n    parameter \\A_SIGNED 0\n    parameter \\A_WIDTH 3\n    parameter \\B_SIGNED 0\n"
            "    parameter \\B_WIDTH 4\n    parameter \\Y_WIDTH 7\n    connect \\A \\x [2:0]\n    connect \\B {}\n"
            "    connect \\Y $2\n  end\n")
    assert rtlil_multipliers(cell.format("4'1100")) == []
    assert len(rtlil_multipliers(cell.format("\\y"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["w-p2-w4-6", "w-p4-w32-12"])
def test_odd_widths_equal_yosys_on_the_ecp5(tmp_path, name):
    """6- and 12-bit activations on the ECP5: lanes written an activation at a time, and part selects that are
    multiplies by a constant; block RAMs, LUT RAMs and DSPs as Yosys counts them."""
    from mamhw.fpga.calibration import WINDOW_GRID, config_engine, config_network, measured_quantities
    from mamhw.fpga.pnr import synthesize_json
    from mamhw.hw.dsp import FAMILY_DSP
    from mamhw.hw.engines import build_window_engine
    cfg = next(c for c in WINDOW_GRID if c["name"] == name)
    network, (_, window) = config_network(cfg), config_engine(cfg)
    rep = estimate(network, cfg["pes"], "ecp5-25f", engine="window", window=window)
    engine, _ = build_window_engine(network, cfg["pes"], window, dsp=FAMILY_DSP["ecp5"])
    _, cells = synthesize_json(engine, "ecp5", str(tmp_path))
    got = measured_quantities({"cells": cells}, "ecp5")
    assert (rep["block_rams"], rep["lut_rams"], rep["dsps"]) == (got["block_rams"], got["lut_rams"], got["dsps"])
