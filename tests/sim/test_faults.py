"""A deliberately broken PE is caught by netlist simulation (the formal proofs catch them in test_formal.py)."""

import numpy as np
import pytest

from mamhw.golden import Layer, forward
from mamhw.sim.netlist import run_netlist
from mamhw.sim.pe_amaranth import build_pe
from tests.faulty import FAULTS


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))


def layer_that_exposes_both_faults():
    # Rows with pruned weights and negative products (so the pruned zero is the max), rows of 2+ entries,
    # MAM for the seeding fault; the others show in any kind.
    w = np.array([[3, 0, 2, 0], [-5, 4, 0, 7], [0, 0, 0, 6], [1, 2, 3, 4]])
    return Layer.build(kind="mam", weight=w, bias=[0, 0, 0, 0], mult=1, shift=0, relu=False, out_bits=16)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_netlist_simulation_catches_a_broken_pe(fault):
    layer = layer_that_exposes_both_faults()
    x = np.array([[-9, 5, -7, 3], [10, -3, 8, -2]])
    pe = build_pe(layer, pe_class=FAULTS[fault])
    try:
        outputs, _, _ = run_netlist(pe, x, family="ice40", n_out=layer.n_out, timeout=200)
    except RuntimeError as e:                       # the run never ends: caught as well
        assert "no result" in str(e)
        return
    assert not np.array_equal(outputs, forward(layer, x))
