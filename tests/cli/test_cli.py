"""The `mam` command: golden and sim agree bit for bit, reports, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from mamhw.cli import main
from mamhw.golden import network_forward, save_layer, save_network
from tests.strategies import layers_and_inputs, make_layer_and_inputs, make_network_and_inputs

SMALL = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_in=12, n_out=5, density=0.3, n_empty=1, n_dense=1,
             sign_mode="any", relu=True, scale="fit", batch=3, seed=3)


def _layer(kind, n_in, n_out, density, seed):
    return dict(SMALL, kind=kind, n_in=n_in, n_out=n_out, density=density, batch=1, seed=seed, n_empty=1,
                n_dense=0, relu=kind == "mam")


# A MAM hidden layer and a MAC output layer, as trained networks mix them.
NETWORK = dict(layers=[_layer("mam", 30, 12, 0.2, 1), _layer("mam", 12, 9, 0.3, 2), _layer("mac", 9, 4, 0.5, 3)],
               x_mode="any", batch=3, seed=0)


def write_case(folder, layer, x):
    save_layer(layer, folder / "layer.npz")
    np.save(folder / "x.npy", x)
    return folder / "layer.npz", folder / "x.npy"


def run(*args):
    return main([str(a) for a in args])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(layers_and_inputs(max_in=760, max_out=8, max_entries=1200))
def test_sim_equals_golden_bit_for_bit(tmp_path, case):
    layer_path, x_path = write_case(tmp_path, *case)
    assert run("golden", layer_path, x_path, "-o", tmp_path / "g.npy") == 0
    assert run("sim", layer_path, x_path, "-o", tmp_path / "r.npy", "--report", tmp_path / "r.json") == 0
    golden, rtl = np.load(tmp_path / "g.npy"), np.load(tmp_path / "r.npy")
    assert golden.shape == (case[1].shape[0], case[0].n_out)
    np.testing.assert_array_equal(rtl, golden)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["mismatches"] == 0 and report["cycles_match_model"]
    assert report["cycles_per_sample"] == [report["model_cycles"]] * x_path_batch(x_path)
    assert report["entries"] == int(np.maximum(np.count_nonzero(case[0].weight, axis=1), 1).sum())


def x_path_batch(path):
    return np.atleast_2d(np.load(path)).shape[0]


def test_single_vector_input_gives_batch_of_one(tmp_path):
    layer, x = make_layer_and_inputs(SMALL)
    layer_path, x_path = write_case(tmp_path, layer, x[0])
    assert run("golden", layer_path, x_path, "-o", tmp_path / "g.npy") == 0
    assert np.load(tmp_path / "g.npy").shape == (1, layer.n_out)


def test_sim_report_and_waveform(tmp_path, capsys):
    layer_path, x_path = write_case(tmp_path, *make_layer_and_inputs(SMALL))
    assert run("sim", layer_path, x_path, "-o", tmp_path / "r.npy", "--report", tmp_path / "r.json",
               "--vcd", tmp_path / "w.vcd") == 0
    out = capsys.readouterr().out
    assert "equal the golden model bit for bit" in out and "match the model" in out
    report = json.loads((tmp_path / "r.json").read_text())
    for key in ("cycles_per_sample", "entries", "model_cycles", "mismatches", "efficiency", "layers"):
        assert key in report
    assert (tmp_path / "w.vcd").stat().st_size > 0


def test_sim_exits_1_on_mismatch(tmp_path, monkeypatch, capsys):
    """A wrong RTL output must fail the command: simulate a PE whose results are off by one."""
    import mamhw.check as check
    real = check.run_rtl

    def off_by_one(*a, **kw):
        res = real(*a, **kw)
        res.outputs[0, 0] += 1
        return res

    monkeypatch.setattr(check, "run_rtl", off_by_one)
    layer_path, x_path = write_case(tmp_path, *make_layer_and_inputs(SMALL))
    assert run("sim", layer_path, x_path, "-o", tmp_path / "r.npy", "--report", tmp_path / "r.json") == 1
    assert "MISMATCH: 1 of" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["mismatches"] == 1 and report["mismatch_examples"][0]["sample"] == 0


def bad_layers(tmp_path):
    """Each contract violation as a file, plus a missing file and non-npz files."""
    good = make_layer_and_inputs(SMALL)[0].to_arrays()
    cases = {
        "missing-key": {k: v for k, v in good.items() if k != "bias"},
        "unknown-kind": good | {"kind": np.array("sum")},
        "float-weight": good | {"weight": good["weight"].astype(float)},
        "nan-weight": good | {"weight": np.full(good["weight"].shape, np.nan)},
        "weight-range": good | {"weight": good["weight"] * 0 + 200},
        "bias-shape": good | {"bias": good["bias"][:-1]},
        "bias-range": good | {"bias": good["bias"] * 0 + 2**40},
        "mult-range": good | {"mult": np.array(70000)},
        "shift-range": good | {"shift": np.array(99)},
        "relu-type": good | {"relu": np.array(0.5)},
        "bits-range": good | {"in_bits": np.array(0)},
        "extra-key": good | {"surprise": np.array(1)},
    }
    paths = {}
    for name, arrays in cases.items():
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], **arrays)
    paths["missing-file"] = tmp_path / "absent.npz"
    (tmp_path / "text.npz").write_text("hello")
    paths["not-npz"] = tmp_path / "text.npz"
    np.save(tmp_path / "array.npy", np.zeros(3))
    paths["npy-not-npz"] = tmp_path / "array.npy"
    return paths


@pytest.mark.parametrize("command", ["golden", "sim"])
def test_bad_layer_files_get_one_line_and_status_2(tmp_path, command):
    _, x_path = write_case(tmp_path, *make_layer_and_inputs(SMALL))
    for name, path in bad_layers(tmp_path).items():
        out = tmp_path / f"out-{name}.npy"
        proc = subprocess.run([sys.executable, "-m", "mamhw", command, str(path), str(x_path), "-o", str(out)],
                              capture_output=True, text=True)
        assert proc.returncode == 2, (name, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("mam: error: "), (name, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        assert not out.exists(), name


def test_bad_inputs_and_command_lines(tmp_path, capsys):
    layer_path, x_path = write_case(tmp_path, *make_layer_and_inputs(SMALL))
    np.save(tmp_path / "wide.npy", np.zeros((2, 13), dtype=int))
    np.save(tmp_path / "big.npy", np.full((2, 12), 300))
    np.save(tmp_path / "float.npy", np.zeros((2, 12)))
    out = tmp_path / "o.npy"
    for argv in [
        ("golden", layer_path, tmp_path / "wide.npy", "-o", out),
        ("golden", layer_path, tmp_path / "big.npy", "-o", out),
        ("sim", layer_path, tmp_path / "float.npy", "-o", out),
        ("sim", layer_path, layer_path, "-o", out),
        ("sim", layer_path, x_path, "-o", tmp_path / "no" / "such" / "dir.npy"),
        ("sim", layer_path, x_path),                                     # no -o
        ("frobnicate",),
        (),
    ]:
        assert run(*argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)
        assert not out.exists()



@pytest.mark.parametrize("backend", ["compiled", "icarus", "netlist-ecp5"])
def test_backends_agree_with_amaranth_on_a_network(tmp_path, backend, monkeypatch):
    """`mam sim --backend X` gives the same outputs and cycle counts as `--backend amaranth`, per layer too."""
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))
    network, x = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    reports = {}
    for b in ("amaranth", backend):
        assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / f"{b}.npy", "--pes", 3,
                   "--backend", b, "--report", tmp_path / f"{b}.json") == 0
        reports[b] = json.loads((tmp_path / f"{b}.json").read_text())
    np.testing.assert_array_equal(np.load(tmp_path / "amaranth.npy"), np.load(tmp_path / f"{backend}.npy"))
    a, b = reports["amaranth"], reports[backend]
    assert a["cycles_per_sample"] == b["cycles_per_sample"] == [a["model_cycles"]] * x.shape[0]
    assert [L["cycles"] for L in a["layers"]] == [L["cycles"] for L in b["layers"]]
    assert len(a["layers"]) == len(network) and all(L["cycles_match_model"] for L in b["layers"])


def test_network_file_with_pes(tmp_path, capsys):
    network, x = make_network_and_inputs(dict(NETWORK, seed=9))
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    assert run("golden", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "g.npy") == 0
    assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "r.npy", "--pes", 4,
               "--report", tmp_path / "r.json") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "g.npy"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["pes"] == 4 and len(report["layers"]) == len(network)
    assert all(len(L["pe_load"]) == 4 for L in report["layers"])
    assert sum(L["model_cycles"] for L in report["layers"]) == report["model_cycles"]
    capsys.readouterr()                 # the run above may have printed progress lines on a loaded machine
    for bad in (["--pes", "0"], ["--pes", "17"], ["--backend", "verilator"], ["--backend", "icarus", "--vcd",
                                                                                str(tmp_path / "w.vcd")]):
        assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "z.npy", *bad) == 2, bad
        assert capsys.readouterr().err.count("\n") == 1
        assert not (tmp_path / "z.npy").exists()


@pytest.mark.parametrize("backend", ["amaranth", "compiled", "icarus", "netlist-ecp5"])
def test_window_engine_on_every_backend(tmp_path, backend, monkeypatch, capsys):
    """`mam sim --engine window`: outputs equal the golden model's, cycles the window engine's model, per layer."""
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))
    network, x = make_network_and_inputs(dict(NETWORK, seed=6))
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    assert run("golden", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "g.npy") == 0
    assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "r.npy", "--pes", 4,
               "--engine", "window", "--window", 8, "--backend", backend, "--report", tmp_path / "r.json") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "g.npy"))
    report = json.loads((tmp_path / "r.json").read_text())
    from mamhw.golden.window import plan_window_network, window_sample_cycles
    plans = plan_window_network(network, 4, 8)
    assert (report["engine"], report["window"]) == ("window", 8)
    assert [L["model_cycles"] for L in report["layers"]] == [p.cycles for p in plans]      # the most
    # Each sample's own count, as zero skipping makes it, from the model of golden/window.py.
    expected = window_sample_cycles(plans, [x] + network_forward(network, x, return_all=True)[:-1])
    assert report["cycles_per_sample"] == report["model_cycles_per_sample"] == expected.sum(axis=1).tolist()
    assert report["cycles_match_model"]
    assert "window engine (W = 8)" in capsys.readouterr().out


def test_window_engine_refuses_a_window_p_does_not_divide(tmp_path, capsys):
    network, x = make_network_and_inputs(dict(NETWORK, seed=6))
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    for bad in (["--pes", "3"], ["--pes", "16", "--window", "8"], ["--window", "12"]):
        assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "z.npy", "--engine", "window",
                   *bad) == 2, bad
        assert capsys.readouterr().err.count("\n") == 1
        assert not (tmp_path / "z.npy").exists()


@pytest.mark.parametrize("backend", ["amaranth", "compiled"])
def test_relative_indices_on_one_pe(tmp_path, backend, monkeypatch, capsys):
    """`mam sim --relative-indices 2`: the UP5K SPRAM format (steps of at most 3 here, so many fillers), outputs
    equal the golden model's, cycles the model's with those fillers; refused with one line where it cannot hold."""
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))
    network, x = make_network_and_inputs(dict(NETWORK, seed=6))
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "r.npy", "--relative-indices", 2,
               "--backend", backend, "--report", tmp_path / "r.json") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), network_forward(network, x))
    report = json.loads((tmp_path / "r.json").read_text())
    from mamhw.golden.engines import cycle_model
    model = cycle_model(network, 1, delta_bits=2)
    assert report["delta_bits"] == 2 and report["cycles_match_model"]
    assert report["cycles_per_sample"] == [model.total] * x.shape[0] and model.total > cycle_model(network, 1).total
    # Fillers take cycles but are no work: efficiency counts the layers' own entries (absolute indices' count).
    own = int(cycle_model(network, 1).entries.sum())
    assert report["fillers"] == report["entries"] - own > 0
    assert report["efficiency"] == own / model.total
    assert [L["fillers"] for L in report["layers"]] == [int(a - b) for a, b in zip(
        model.entries, cycle_model(network, 1).entries)]
    assert "fillers" in capsys.readouterr().out
    for bad in (["--pes", "2"], ["--engine", "window", "--window", "4"], ["--relative-indices", "17"]):
        assert run("sim", tmp_path / "net.npz", tmp_path / "x.npy", "-o", tmp_path / "z.npy",
                   "--relative-indices", 2, *bad) == 2, bad
        assert capsys.readouterr().err.count("\n") == 1
        assert not (tmp_path / "z.npy").exists()
