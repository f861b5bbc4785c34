"""Requests too large for this machine's memory, refused in one line before any work (instead of a MemoryError
traceback, or the kernel killing the process, minutes into a run).

The costs are measured peaks (maximum resident set, /usr/bin/time -f %M) with a margin:

- ``mam sweep``: 154 MB for --shape 1000,1000,10 and 370 MB for 2000,2000,10, about 72 bytes per weight of the
  network (its dense weights, the pruned MAM and MAC variants, the estimates); counted as 96.
- ``mam export`` (Amaranth elaborating the engine and writing Verilog and RTLIL): 177 MB for a 50,000-entry layer,
  301 MB for 100,000 entries, about 2.5 kB per entry; counted as 3,000 bytes plus 200 MB for the interpreter and
  Amaranth. The activation buffers' size barely counts (a 50,000-input layer on 4 PEs: 150 MB).
"""

import os

from .golden import ContractError

__all__ = ["BYTES_PER_WEIGHT", "BYTES_PER_ENTRY", "BASE_BYTES", "available_memory", "check_memory",
           "check_sweep_memory", "check_engine_memory"]

BYTES_PER_WEIGHT = 96
BYTES_PER_ENTRY = 3000
BASE_BYTES = 200 << 20


def available_memory():
    """Bytes of memory available to a new allocation (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n):
    return f"{n / (1 << 30):.1f} GiB"


def check_memory(need, what):
    """ContractError when `need` bytes exceed the memory available now."""
    have = available_memory()
    if have is not None and need > have:
        raise ContractError(f"{what} needs about {_gib(need)} of memory; {_gib(have)} is available")


def check_sweep_memory(weights, what):
    check_memory(BASE_BYTES + weights * BYTES_PER_WEIGHT, f"{what} ({weights:,} weights)")


def check_engine_memory(entries, what):
    check_memory(BASE_BYTES + entries * BYTES_PER_ENTRY, f"{what} ({entries:,} entries)")
