"""`mam estimate`, `mam compare`, `mam sweep`: reports, tables, plots, and one-line errors with exit status 2."""

import csv
import re
import json

import pytest

from mamhw.cli import main
from mamhw.fpga.estimate import kind_variant, random_network
from mamhw.golden import save_network
from mamhw.golden.cycles import network_cycles, plan_network


@pytest.fixture
def net_file(tmp_path):
    network = kind_variant(random_network([64, 24, 10], seed=3), "mam", 0.5)
    save_network(network, tmp_path / "net.npz")
    return tmp_path / "net.npz", network


def run(*args):
    return main([str(a) for a in args])


def test_estimate_prints_a_table_and_writes_the_report(net_file, tmp_path, capsys):
    path, network = net_file
    assert run("estimate", path, "--target", "up5k", "--pes", "2", "--freq", "20",
               "--report", tmp_path / "r.json") == 0
    out = capsys.readouterr().out
    for label in ("cycles / inference", "latency at 20.0 MHz", "block RAMs", "DSPs", "LUTs", "Fmax", "fits up5k"):
        assert label in out
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["cycles"] == network_cycles(plan_network(network, 2)).total
    assert rep["latency_us"] == pytest.approx(rep["cycles"] / 20.0)
    assert rep["inferences_per_s"] == pytest.approx(20e6 / rep["cycles"])
    for key in ("weight_memory_bits", "block_rams", "dsps", "luts", "ffs", "fmax_mhz"):
        assert key in rep


def test_estimate_json_on_stdout(net_file, capsys):
    path, _ = net_file
    assert run("estimate", path, "--target", "ecp5-85f", "--json") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["target"] == "ecp5-85f" and rep["clock_from"] in ("estimated Fmax", None)


def test_vs_mac_and_compare_put_mam_and_mac_side_by_side(net_file, tmp_path, capsys):
    path, _ = net_file
    assert run("estimate", path, "--target", "ecp5-85f", "--pes", "2", "--vs-mac", "--mam-density", "0.05",
               "--mac-density", "0.2",
               "--report", tmp_path / "v.json") == 0
    out = capsys.readouterr().out
    assert "MAM" in out and "MAC" in out and "MAC / MAM: cycles x" in out
    cols = json.loads((tmp_path / "v.json").read_text())["columns"]
    assert [c["name"] for c in cols] == ["MAM", "MAC"]
    assert [x["kind"] for x in cols[0]["layers"]] == ["mam", "mac"]
    assert [x["kind"] for x in cols[1]["layers"]] == ["mac", "mac"]
    assert cols[1]["layers"][0]["weights"] == round(0.2 * 64 * 24)
    assert cols[0]["layers"][0]["weights"] == round(0.05 * 64 * 24)
    assert cols[1]["cycles"] > cols[0]["cycles"]

    assert run("compare", path, "--target", "up5k", "--mam-density", "2%", "--mac-density", "10%") == 0
    assert "MAM" in capsys.readouterr().out
    other = tmp_path / "other.npz"
    save_network(kind_variant(random_network([64, 24, 10], seed=4), "mac", 0.2), other)
    assert run("compare", path, other, "--target", "up5k", "--report", tmp_path / "c.json") == 0
    cols = json.loads((tmp_path / "c.json").read_text())["columns"]
    assert [c["name"] for c in cols] == ["net.npz", "other.npz"]


def test_sweep_writes_json_csv_and_plots_of_both_kinds(net_file, tmp_path, capsys):
    from PIL import Image
    path, _ = net_file
    out = tmp_path / "sweep"
    assert run("sweep", path, "--densities", "0.01,0.03", "10%", "--target", "up5k", "--pes", "2",
               "-o", out) == 0
    rows = list(csv.DictReader((out / "sweep.csv").read_text().splitlines()))
    assert [(r["density"], r["kind"]) for r in rows] == [(d, k) for d in ("0.01", "0.03", "0.1")
                                                         for k in ("mam", "mac")]
    assert all(int(r["total"]) == 64 * 24 for r in rows)
    remaining = [int(r["remaining"]) for r in rows if r["kind"] == "mam"]
    assert remaining == sorted(remaining) and remaining[0] == round(0.01 * 64 * 24)
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["pruned_layers"] == [0] and len(meta["rows"]) == 6
    assert all(r["cycles"] > 0 and r["luts"] > 0 for r in meta["rows"])
    for name in ("cycles.png", "memory.png", "luts.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
        with Image.open(out / name) as im:
            assert im.text["Description"] == "series: MAM, MAC"
    assert "wrote" in capsys.readouterr().out


def test_sweep_of_a_random_network_from_a_shape(tmp_path):
    assert run("sweep", "--shape", "32,16,4", "--densities", "0.05", "0.2", "--target", "ecp5-25f",
               "-o", tmp_path / "s") == 0
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())["rows"]
    assert [r["remaining"] for r in rows] == [round(0.05 * 512)] * 2 + [round(0.2 * 512)] * 2


@pytest.mark.parametrize("args, message", [
    (["estimate", "{tmp}/missing.npz", "--target", "up5k"], "no such file"),
    (["estimate", "{net}", "--target", "nope"], "unknown target"),
    (["estimate", "{net}", "--target", "up5k", "--pes", "17"], "--pes"),
    (["estimate", "{net}", "--target", "up5k", "--freq", "0"], "--freq"),
    (["compare", "{net}", "--target", "up5k", "--mam-density", "1.5"], "densities must be in"),
    (["sweep", "{net}", "--densities", "abc", "--target", "up5k", "-o", "{tmp}/s"], "not a number"),
    (["sweep", "{net}", "--shape", "8,4", "--densities", "0.1", "--target", "up5k", "-o", "{tmp}/s"], "not both"),
    (["sweep", "--densities", "0.1", "--target", "up5k", "-o", "{tmp}/s"], "not both"),
    (["estimate", "{net}"], "--target"),
])
def test_bad_input_is_one_line_and_exit_2(net_file, tmp_path, capsys, args, message):
    path, _ = net_file
    args = [a.format(tmp=tmp_path, net=path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_estimate_compare_and_sweep_of_a_layer_too_big_for_a_dense_matrix(tmp_path, capsys):
    """A 25088 x 4096 layer (VGG-16's first classifier layer, 102.8M interconnections) at 0.01%, from a sparse
    file: counts come from the CSR arrays (its dense matrix is refused beyond DENSE_VIEW_MAX)."""
    from mamhw.golden import DENSE_VIEW_MAX, load_model
    path = tmp_path / "vgg0.npz"
    save_network(random_network([25088, 4096], density=0.0001, seed=1), path)
    layer = load_model(path)[0]
    assert layer.size > DENSE_VIEW_MAX and layer.nnz == round(0.0001 * 25088 * 4096)
    assert run("estimate", path, "--target", "ecp5-85f", "--pes", "2", "--json") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["layers"][0]["weights"] == layer.nnz and rep["cycles"] == network_cycles(plan_network([layer], 2)).total
    assert run("compare", path, "--target", "ecp5-85f", "--mam-density", "0.005%", "--mac-density", "0.01%",
               "--report", tmp_path / "c.json") == 0
    cols = json.loads((tmp_path / "c.json").read_text())["columns"]
    assert [c["layers"][0]["weights"] for c in cols] == [round(0.00005 * layer.size), layer.nnz]
    assert [c["layers"][0]["kind"] for c in cols] == ["mam", "mac"]
    assert run("sweep", path, "--densities", "0.005%", "--target", "ecp5-85f", "-o", tmp_path / "s") == 0
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())["rows"]
    assert [(r["kind"], r["remaining"], r["total"]) for r in rows] == \
        [(k, round(0.00005 * layer.size), layer.size) for k in ("mam", "mac")]


def test_a_sweep_from_a_shape_makes_the_pruned_layers_at_the_highest_density_only(tmp_path):
    """--shape 25088,4096,10: the hidden layer made at 0.01% straight away (its dense form would be 102.8M
    weights), the output layer whole."""
    assert run("sweep", "--shape", "25088,4096,10", "--densities", "0.005%", "0.01%", "--target", "ecp5-85f",
               "-o", tmp_path / "s") == 0
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())["rows"]
    kept = [round(0.00005 * 25088 * 4096), round(0.0001 * 25088 * 4096)]
    assert [r["remaining"] for r in rows] == [kept[0]] * 2 + [kept[1]] * 2
    assert all(r["total"] == 25088 * 4096 for r in rows)
    mam = [r for r in rows if r["kind"] == "mam"]
    assert mam[0]["cycles"] < mam[1]["cycles"]


def test_estimate_chooses_the_engine_that_fits_and_says_why(tmp_path, capsys):
    """--engine auto (the default): the engine that fits the target in the fewest cycles, and the reason."""
    from mamhw.fpga.estimate import random_network
    from mamhw.golden import save_network
    network = random_network([1568, 256, 256, 63], density=0.0004, kinds=["mam", "mam", "mac"], seed=0)
    save_network(network, tmp_path / "net.npz")
    assert main(["estimate", str(tmp_path / "net.npz"), "--target", "ecp5-25f", "--pes", "8", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["engine"], rep["window"], rep["fits"]) == ("window", 64, True)
    assert "the row engine needs 64 block RAMs > 56" in rep["engine_choice"]
    assert main(["estimate", str(tmp_path / "net.npz"), "--target", "ecp5-25f", "--pes", "8", "--engine", "row",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row.get("engine", "row") == "row"
    assert not row["fits"] and row["cycles"] < rep["cycles"]
    # Where both fit, the fewer cycles win: here the row engine.
    assert main(["estimate", str(tmp_path / "net.npz"), "--target", "ecp5-85f", "--pes", "4"]) == 0
    assert "chosen: the row engine" in capsys.readouterr().out


def test_estimate_with_inputs_gives_their_exact_cycles(net_file, tmp_path, capsys):
    """--inputs: the exact cycles of each input vector (the window engine skips zero activations), their mean and
    spread; the row engine's do not depend on the inputs. With --engine auto, every candidate's mean beside."""
    import numpy as np
    from mamhw.golden import network_forward
    from mamhw.golden.engines import cycle_model
    from mamhw.golden.window import plan_window_network, window_sample_cycles
    path, network = net_file
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (6, network.n_in))
    x[rng.random(x.shape) < 0.7] = 0
    x[0] = rng.integers(1, 128, network.n_in)             # no zero
    np.save(tmp_path / "x.npy", x)
    assert run("estimate", path, "--target", "ecp5-85f", "--pes", 2, "--engine", "window", "--window", 16,
               "--inputs", tmp_path / "x.npy", "--report", tmp_path / "r.json") == 0
    out = capsys.readouterr().out
    rep = json.loads((tmp_path / "r.json").read_text())
    per = window_sample_cycles(plan_window_network(network, 2, 16),
                               [x] + network_forward(network, x, return_all=True)[:-1]).sum(axis=1)
    given = rep["cycles_for_inputs"]
    assert given["samples"] == 6 and given["inputs"] == str(tmp_path / "x.npy")
    assert (given["min"], given["max"]) == (per.min(), per.max())
    assert given["mean"] == pytest.approx(per.mean()) and given["std"] == pytest.approx(per.std())
    assert per.max() <= rep["cycles"] and per.min() < rep["cycles"]
    assert re.search(rf"cycles for x.npy +mean {per.mean():,.1f}, std {per.std():,.1f}, {per.min():,}..{per.max():,} "
                     r"over 6 samples \(exact for each\)", out)
    assert run("estimate", path, "--target", "ecp5-85f", "--pes", 2, "--inputs", tmp_path / "x.npy", "--json") == 0
    rep = json.loads(capsys.readouterr().out)
    means = rep["cycles_for_inputs"]["mean_by_engine"]
    assert means["row"] == cycle_model(network, 2).total and means["window16"] == pytest.approx(per.mean())
    assert set(means) == {"row", "window16", "window64"}


@pytest.mark.parametrize("bad, message", [("wide", "inputs"), ("float", "integers"), ("missing", "no such file")])
def test_estimate_refuses_bad_inputs_in_one_line(net_file, tmp_path, capsys, bad, message):
    import numpy as np
    path, network = net_file
    if bad == "wide":
        np.save(tmp_path / "x.npy", np.zeros((2, network.n_in + 1), dtype=np.int64))
    elif bad == "float":
        np.save(tmp_path / "x.npy", np.zeros((2, network.n_in)))
    assert run("estimate", path, "--target", "up5k", "--inputs", tmp_path / "x.npy") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
