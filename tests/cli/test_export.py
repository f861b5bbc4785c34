"""`mam export`: Verilog that another tool (Icarus) accepts, RTLIL, and a description of ports and protocol."""

import json
import subprocess

import numpy as np

from mamhw.cli import main
from mamhw.golden import save_network
from tests.strategies import make_network_and_inputs
from tests.cli.test_cli import NETWORK


def test_export_writes_verilog_rtlil_and_protocol(tmp_path, capsys):
    network, _ = make_network_and_inputs(dict(NETWORK, seed=2))
    save_network(network, tmp_path / "net.npz")
    out = tmp_path / "export"
    assert main(["export", str(tmp_path / "net.npz"), "-o", str(out), "--pes", "2"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["PORTS.md", "network.json", "top.il", "top.v"]
    proc = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.out"), "-s", "top", str(out / "top.v")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ports = (out / "PORTS.md").read_text()
    for port in ("start", "done", "busy", "cycles", "layer_cycles", "x_we", "x_addr", "x_data", "y_addr", "y_data"):
        assert f"`{port}`" in ports
    info = json.loads((out / "network.json").read_text())
    assert info["pes"] == 2 and len(info["layer_cycles"]) == len(network)
    assert sum(info["layer_cycles"]) == info["cycles"]
    assert info["y_latency"] == 2 and "shows output r 2 cycles later" in ports


def test_export_refuses_bad_input_without_writing(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros(3))
    assert main(["export", str(tmp_path / "x.npy"), "-o", str(tmp_path / "out")]) == 2
    assert main(["export", str(tmp_path / "x.npy"), "-o", str(tmp_path / "no" / "out")]) == 2
    assert capsys.readouterr().err.count("\n") == 2
    assert not (tmp_path / "out").exists()
