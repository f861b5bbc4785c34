"""`mam synth`: real Yosys + nextpnr runs give utilization and Fmax; designs that cannot fit are refused first."""

import json

import numpy as np
import pytest

from mamhw.cli import main
from mamhw.fpga.pnr import _critical_path
from mamhw.golden import Layer, save_layer, save_network
from tests.cli.test_cli import NETWORK
from tests.strategies import make_network_and_inputs


@pytest.mark.parametrize("target", ["up5k", "ecp5-25f"])
def test_synth_reports_utilization_and_fmax(tmp_path, target, capsys):
    network, _ = make_network_and_inputs(dict(NETWORK, seed=4))
    save_network(network, tmp_path / "net.npz")
    assert main(["synth", str(tmp_path / "net.npz"), "--target", target, "--pes", "2", "--seeds", "1",
                 "--freq", "10", "--report", str(tmp_path / "r.json"), "-o", str(tmp_path / "work")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["target"] == target and rep["pes"] == 2
    assert 1 <= sum(n for c, n in rep["cells"].items() if c in ("SB_MAC16", "MULT18X18D"))
    assert 5 < rep["fmax_mhz"]["median"] < 500 and rep["timing_met"]
    logic = "ICESTORM_LC" if target == "up5k" else "TRELLIS_COMB"
    assert 0 < rep["utilization"][logic] < rep["available"][logic]
    assert "Fmax (MHz)" in capsys.readouterr().out
    assert rep["critical_path"] and "$tr_io" not in rep["critical_path"]     # a clocked path, not a pin's
    if target.startswith("ecp5"):
        # hw/dsp.py: the requantization product's register is the DSP's own output register.
        cells = json.loads((tmp_path / "work" / "netlist.json").read_text())["modules"]["top"]["cells"]
        regs = [c["parameters"].get("REG_OUTPUT_CLK") for c in cells.values() if c["type"] == "MULT18X18D"]
        assert "CLK0" in regs


def test_the_reported_critical_path_is_a_clocked_one():
    def path(frm, to, delays):
        return {"from": frm, "to": to, "path": [{"type": "logic", "delay": d, "from": {"cell": f"{frm}_c"},
                                                   "to": {"cell": f"{to}_c"}} for d in delays]}
    rep = {"critical_paths": [path("<async>", "posedge clk", [6.0, 3.0]), path("posedge clk", "posedge clk", [4.0])]}
    assert _critical_path(rep) == "posedge clk_c -> posedge clk_c (4.0 ns)"


def test_a_layer_too_big_for_the_target_is_refused_before_any_tool(tmp_path, capsys):
    w = np.ones((256, 512), dtype=int)
    save_layer(Layer.build(kind="mam", weight=w, bias=np.zeros(256, int), mult=1, shift=0, relu=False),
               tmp_path / "big.npz")
    assert main(["synth", str(tmp_path / "big.npz"), "--target", "up5k", "-o", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert "does not fit up5k" in err and err.count("\n") == 1
    # 131,072 entries of 19 bits: 8 banks of 16,384 words, 2 SPRAMs wide; every row is dense, which relative
    # indices cannot hold.
    assert "with the entry words in SPRAM: absolute indices: 16 SPRAMs > 4" in err
    assert "relative indices: entries with relative indices do not take a fully dense MAM row" in err
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("command", [["synth", "--target", "up5k"], ["build", "--board", "icebreaker"]])
def test_more_dsps_than_the_target_has_are_refused_before_any_tool(tmp_path, capsys, command):
    """Eight PEs need 16 multipliers; the UP5K has 8. The weights alone would fit, so the count must be exact."""
    network, _ = make_network_and_inputs(dict(NETWORK, seed=4))
    save_network(network, tmp_path / "net.npz")
    assert main([command[0], str(tmp_path / "net.npz"), *command[1:], "--pes", "8",
                 "-o", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert "does not fit up5k with 8 PE(s): 16 DSPs > 8" in err and err.count("\n") == 1
    assert not (tmp_path / "work").exists()


def _overflowing_layer(tmp_path):
    """One MAC layer whose ~7,400 entry words (18 bits) need 36 of the UP5K's 30 block RAMs, or 2 SPRAMs."""
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (48, 256)) * (rng.random((48, 256)) < 0.6)
    save_layer(Layer.build(kind="mac", weight=w, bias=rng.integers(-99, 99, 48), mult=1 << 10, shift=20, relu=True),
               tmp_path / "wide.npz")
    return tmp_path / "wide.npz"


def test_weights_beyond_block_ram_go_to_spram_on_the_up5k(tmp_path, capsys):
    """--weights auto: the block RAMs cannot hold the entry words, the SPRAMs can. Yosys's cell counts equal the
    estimate's exact ones."""
    path = _overflowing_layer(tmp_path)
    assert main(["estimate", str(path), "--target", "up5k", "--weights", "bram", "--json"]) == 0
    bram = json.loads(capsys.readouterr().out)
    assert not bram["fits"] and bram["block_rams"] > 30
    assert main(["estimate", str(path), "--target", "up5k", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["fits"] and est["weights_in"] == "spram" and est["sprams"] == 2
    assert main(["synth", str(path), "--target", "up5k", "--seeds", "1", "--freq", "10",
                 "--report", str(tmp_path / "r.json")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["weights_in"] == "spram" and rep["timing_met"]
    assert rep["cells"].get("SB_SPRAM256KA", 0) == est["sprams"]
    assert rep["cells"].get("SB_RAM40_4K", 0) == est["block_rams"]
    assert "SPRAM" in capsys.readouterr().err


def test_weights_in_spram_need_a_target_with_spram(tmp_path, capsys):
    path = _overflowing_layer(tmp_path)
    assert main(["synth", str(path), "--target", "ecp5-25f", "--weights", "spram"]) == 2
    err = capsys.readouterr().err
    assert "ecp5-25f has no SPRAM for weights" in err and err.count("\n") == 1


FAKE_NEXTPNR = '''#!{python}
"""A stand-in for nextpnr: no legal placement at densities above {placeable} or with a seed in {unplaceable},
else a report of {fmax} MHz."""
import json, sys
args = sys.argv[1:]
with open("calls.txt", "a") as f:
    f.write(" ".join(args) + "\\n")
density = float(args[args.index("--placer-heap-beta") + 1]) if "--placer-heap-beta" in args else 0.9
if {other_error}:
    sys.exit("ERROR: Failed to route design.")
if density > {placeable} or int(args[args.index("--seed") + 1]) in {unplaceable}:
    sys.exit("ERROR: Unable to find legal placement for all cells, design is probably at utilisation limit.")
with open(args[args.index("--report") + 1], "w") as f:
    json.dump({{"fmax": {{"clk": {{"achieved": {fmax}}}}}, "critical_paths": [],
               "utilization": {{"ICESTORM_LC": {{"used": 10, "available": 5280}}}}}}, f)
'''


def fake_nextpnr(tmp_path, monkeypatch, *, placeable, other_error=False, unplaceable=(), workdir=None):
    """Put the stand-in in NEXTPNR_ICE40; returns a function giving the argument lists of its calls so far (made
    in `workdir`, by default `tmp_path`)."""
    import sys
    script = tmp_path / "fake-nextpnr"
    script.write_text(FAKE_NEXTPNR.format(python=sys.executable, placeable=placeable, fmax=50.0,
                                          other_error=other_error, unplaceable=sorted(unplaceable)))
    script.chmod(0o755)
    monkeypatch.setenv("NEXTPNR_ICE40", str(script))
    (tmp_path / "netlist.json").write_text("{}")
    calls = (workdir or tmp_path) / "calls.txt"
    return lambda: [line.split() for line in calls.read_text().splitlines()]


@pytest.mark.parametrize("placeable, tried", [(0.9, [None]), (0.8, [None, "0.8"]), (0.7, [None, "0.8", "0.7"])])
def test_a_design_that_does_not_place_is_placed_again_more_sparsely(tmp_path, monkeypatch, placeable, tried):
    from mamhw.fpga.pnr import place_and_route
    from mamhw.fpga.targets import get_target
    calls = fake_nextpnr(tmp_path, monkeypatch, placeable=placeable)
    run = place_and_route(tmp_path / "netlist.json", get_target("up5k"), 48, 1, tmp_path)
    assert [c[c.index("--placer-heap-beta") + 1] if "--placer-heap-beta" in c else None for c in calls()] == tried
    assert run["fmax"] == 50.0 and run["placement_density"] == (None if placeable == 0.9 else placeable)


@pytest.mark.parametrize("placeable, other_error, calls_made, message", [
    (0.5, False, 3, "Unable to find legal placement"),      # at no density: the design does not fit
    (0.9, True, 1, "Failed to route design"),                # not a placement failure: not retried
])
def test_a_failure_is_raised_once_retrying_cannot_help(tmp_path, monkeypatch, placeable, other_error, calls_made,
                                                        message):
    from mamhw.fpga.pnr import place_and_route
    from mamhw.fpga.targets import get_target
    from mamhw.plumbing import ToolError
    calls = fake_nextpnr(tmp_path, monkeypatch, placeable=placeable, other_error=other_error)
    with pytest.raises(ToolError, match=message):
        place_and_route(tmp_path / "netlist.json", get_target("up5k"), 48, 1, tmp_path)
    assert len(calls()) == calls_made
