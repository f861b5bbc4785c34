"""`mam build`: real bitstreams for both boards, the PLL settings behind them, and no bitstream without timing."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from mamhw.cli import main
from mamhw.fpga.pll import ecp5_pll, ice40_pll
from mamhw.golden import save_network
from tests.cli.test_cli import NETWORK
from tests.strategies import make_network_and_inputs

# What each packer's file starts with: iCE40 images carry the 0x7EAA997E sync word after a 0xFF pad; ECP5
# bitstreams open with a comment block (0xFF 0x00 ... 0x00 0xFF) followed by the 0xFFFFBDB3 preamble.
ICE40_SYNC = bytes.fromhex("7eaa997e")
ECP5_PREAMBLE = bytes.fromhex("ffffbdb3")


@settings(max_examples=40, deadline=None)
@given(st.floats(16e6, 270e6))
def test_ice40_pll_settings_obey_the_data_sheet_and_make_what_they_claim(f_want):
    pll = ice40_pll(12e6, f_want)
    p = pll.params
    f_pfd = 12e6 / (p["DIVR"] + 1)
    f_vco = f_pfd * (p["DIVF"] + 1)
    assert 10e6 <= f_pfd <= 133e6 and 533e6 <= f_vco <= 1066e6 and 1 <= p["DIVQ"] <= 6
    assert pll.f_out == pytest.approx(f_vco / 2 ** p["DIVQ"], rel=1e-12)
    assert abs(pll.f_out - f_want) <= 0.05 * f_want


@settings(max_examples=40, deadline=None)
@given(st.floats(20e6, 300e6))
def test_ecp5_pll_settings_obey_the_data_sheet_and_make_what_they_claim(f_want):
    pll = ecp5_pll(25e6, f_want)
    p = pll.params
    assert pll.f_out == pytest.approx(25e6 * p["CLKFB_DIV"] / p["CLKI_DIV"], rel=1e-12)
    assert 400e6 <= pll.f_out * p["CLKOP_DIV"] <= 800e6
    # The phase detector needs >= 3.125 MHz, so the outputs are multiples of 25 MHz / 8 at worst.
    assert abs(pll.f_out - f_want) <= 25e6 / 8 / 2 + 1


def test_exact_clocks_are_found():
    assert ice40_pll(12e6, 48e6).f_out == 48e6 and ice40_pll(12e6, 24e6).f_out == 24e6
    assert ecp5_pll(25e6, 50e6).f_out == 50e6 and ecp5_pll(25e6, 150e6).f_out == 150e6


@pytest.mark.parametrize("board, bitstream, magic", [("icebreaker", "top.bin", ICE40_SYNC),
                                                     ("ulx3s-85f", "top.bit", ECP5_PREAMBLE)])
def test_a_real_bitstream_for_each_board(tmp_path, capsys, board, bitstream, magic):
    network, _ = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    out = tmp_path / "build"
    assert main(["build", str(tmp_path / "net.npz"), "--board", board, "-o", str(out), "--seeds", "2"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["board"] == board and rep["timing_met"] and rep["fmax_mhz"] >= rep["clock_mhz"]
    data = (out / bitstream).read_bytes()
    assert len(data) > 50_000 and magic in data[:4096]
    assert rep["utilization"].get("ICESTORM_PLL", rep["utilization"].get("EHXPLLL")) == 1
    text = (out / "report.txt").read_text()
    assert "timing met" in text and bitstream in text
    assert "timing met" in capsys.readouterr().out
    if board == "icebreaker":                       # placed with rx pulled up (nextpnr reads the pcf's flag)
        assert "set_io -pullup yes rx 6" in (out / "top.pcf").read_text()


def test_an_icebreaker_bitstream_with_the_weights_in_spram(tmp_path, capsys):
    """--weights spram: the entry words in SB_SPRAM256KA cells, placed and packed; `mam run` loads them (the host
    link's LOAD_WEIGHTS, tested in simulation in tests/hw/test_hostlink.py)."""
    network, _ = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    out = tmp_path / "build"
    assert main(["build", str(tmp_path / "net.npz"), "--board", "icebreaker", "-o", str(out), "--seeds", "2",
                 "--pes", "2", "--weights", "spram"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["timing_met"] and rep["weights_in"] == "spram"
    assert rep["utilization"]["ICESTORM_SPRAM"] == rep["cells"]["SB_SPRAM256KA"] >= 2     # one or more per PE
    assert ICE40_SYNC in (out / "top.bin").read_bytes()[:4096]
    assert "loaded over the host link" in (out / "report.txt").read_text()


def test_no_bitstream_when_timing_does_not_close_not_even_a_stale_one(tmp_path, capsys):
    """A failed build into the folder of an earlier one leaves no bitstream: the earlier design's top.bin beside a
    report saying "not written" would be loaded by mistake."""
    network, _ = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    out = tmp_path / "build"
    out.mkdir()
    (out / "top.bin").write_bytes(b"\xff\x00\x00\xff" + ICE40_SYNC + b"an earlier design")
    (out / "report.json").write_text('{"timing_met": true}')
    assert main(["build", str(tmp_path / "net.npz"), "--board", "icebreaker", "-o", str(out), "--seeds", "1",
                 "--freq", "150"]) == 1
    assert not (out / "top.bin").exists() and not (out / "top.bin.part").exists()
    rep = json.loads((out / "report.json").read_text())
    assert not rep["timing_met"] and rep["bitstream"] is None and rep["critical_path"]
    assert "not written" in (out / "report.txt").read_text()
    assert "timing not met" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--board", "nexys"], "unknown board 'nexys'"),
    (["--board", "icebreaker", "--freq", "0"], "argument --freq: must be a positive finite number, got '0'"),
    (["--board", "icebreaker", "--freq", "inf"], "argument --freq: must be a positive finite number, got 'inf'"),
    (["--board", "icebreaker", "--freq", "nan"], "argument --freq: must be a positive finite number, got 'nan'"),
    (["--board", "icebreaker", "--freq", "500"], "--freq must be within 1..400 MHz"),
    (["--board", "icebreaker", "--pes", "17"], "argument --pes: must be in 1..16, got '17'"),
    (["--board", "icebreaker", "--seeds", "0"], "argument --seeds: must be at least 1"),
    (["--board", "icebreaker", "--freq", "25"], "3000000 baud at 25"),
])
def test_bad_build_requests_are_one_line_errors(tmp_path, capsys, args, message):
    network, _ = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    assert main(["build", str(tmp_path / "net.npz"), "-o", str(tmp_path / "b"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_a_seed_that_does_not_place_is_passed_over_and_none_placing_is_one_line(tmp_path, monkeypatch, capsys):
    """nextpnr (a stand-in, after the real Yosys) places the design on seeds 2 and 3 only: the build reports the best
    of those; with no seed placing, one line that says what to do."""
    from tests.fpga.test_pnr import fake_nextpnr
    network, _ = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    out = tmp_path / "build"
    calls = fake_nextpnr(tmp_path, monkeypatch, placeable=0.9, unplaceable={1}, workdir=out)
    assert main(["build", str(tmp_path / "net.npz"), "--board", "icebreaker", "-o", str(out), "--seeds", "3",
                 "--freq", "60"]) == 1                        # the stand-in's 50 MHz: timing not met, no bitstream
    rep = json.loads((out / "report.json").read_text())
    assert (rep["seed"], rep["seeds_tried"], rep["fmax_mhz"], rep["bitstream"]) == (2, 3, 50.0, None)
    assert [c[c.index("--seed") + 1] for c in calls()] == ["1", "1", "1", "2", "3"]   # seed 1 at every density
    capsys.readouterr()
    fake_nextpnr(tmp_path, monkeypatch, placeable=0.9, unplaceable={1, 2}, workdir=out)
    assert main(["build", str(tmp_path / "net.npz"), "--board", "icebreaker", "-o", str(out), "--seeds", "2",
                 "--freq", "60"]) != 0
    error = capsys.readouterr().err.strip().splitlines()[-1]          # after the progress lines
    assert error.startswith("mam: ") and "no legal placement on 2 seeds" in error and "fewer --pes" in error
    assert not (out / "report.json").exists() and not (out / "top.bin").exists()
