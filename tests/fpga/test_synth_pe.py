"""Yosys synthesis of the PE for the iCE40 UP5K: the multiply goes to a DSP, the memories to block RAM."""

import numpy as np
import pytest

from mamhw.fpga.synth import synthesize
from mamhw.golden import Layer
from mamhw.sim.pe_amaranth import build_pe


@pytest.mark.parametrize("kind", ["mam", "mac"])
def test_pe_synthesizes_for_ice40_with_a_dsp_multiply(tmp_path, kind):
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (32, 128))
    w[rng.random(w.shape) < 0.95] = 0
    layer = Layer.build(kind=kind, weight=w, bias=rng.integers(-99, 99, 32), mult=93, shift=11, relu=True)
    cells = synthesize(build_pe(layer), "ice40", tmp_path)
    assert cells.get("SB_MAC16", 0) >= 1, cells
    assert cells.get("SB_RAM40_4K", 0) >= 1, cells
    # The 8x8 product must not be built from LUTs: a LUT multiplier alone would take ~100 SB_LUT4.
    assert cells["SB_LUT4"] < 600, cells
