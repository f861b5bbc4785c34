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
    assert "window, W = 16" in text and "not modelled for the window engine" in text


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
    assert rep["dsps"] == 2 * pes and rep["fits"] == (rep["block_rams"] <= get_target(target).bram_blocks)
