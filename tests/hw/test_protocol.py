"""The protocol module: plain Python that the host imports without Amaranth."""

import subprocess
import sys


def test_protocol_and_host_driver_import_without_amaranth():
    # A fresh interpreter: the test session itself has Amaranth loaded long before this runs.
    code = ("import sys; import mamhw.hw.protocol, mamhw.fpga.host; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'amaranth'); "
            "print(','.join(loaded)); sys.exit(1 if loaded else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"importing the protocol or the host driver loaded {run.stdout.strip()}"
