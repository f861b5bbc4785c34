"""bench/pruning_curve.py --quick: levels chosen on the validation split by the stated rule, spreads over seeds."""

import json
import statistics

import pytest

from tests.bench_scripts import quick_json, run_bench

pytest.importorskip("sklearn", reason="needs the data extra: pip install -e '.[data]'")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return quick_json(tmp_path_factory, "pruning_curve.py", "--out", timeout=300)


def test_each_level_is_the_rule_applied_to_validation_accuracy(quick):
    _, result = quick
    rows, levels = result["rows"], result["levels"]
    tol = result["config"]["tolerance"]
    seeds = result["config"]["seeds"]
    assert len(seeds) >= 2
    groups = {(r["seed"], r["net"], r["method"]) for r in rows}
    assert len(groups) == 3 * len(seeds)            # MAM magnitude, MAM selection, MAC magnitude per seed
    for seed, net, method in groups:
        curve = [r for r in rows if (r["seed"], r["net"], r["method"]) == (seed, net, method)]
        assert [r["fraction"] for r in curve] == [1.0] + sorted(result["config"]["fractions"], reverse=True)
        base = curve[0]["val_acc"]
        passing = [100 * (base - r["val_acc"]) <= tol + 1e-9 for r in curve]
        expected = (passing.index(False) if False in passing else len(curve)) - 1
        assert [r["chosen"] for r in curve] == [k == expected for k in range(len(curve))]
        level = next(lv for lv in levels if (lv["seed"], lv["net"], lv["method"]) == (seed, net, method))
        assert level == curve[expected]
    # Validation and test are different samples: on some step the two accuracies differ.
    assert any(r["val_acc"] != r["float_acc"] for r in rows)


def test_the_headline_ratio_is_per_seed_with_mean_and_spread(quick):
    stdout, result = quick
    levels, seeds = result["levels"], result["config"]["seeds"]

    def kept(seed, net):
        return next(lv["kept"] for lv in levels if (lv["seed"], lv["net"], lv["method"]) == (seed, net, "magnitude"))

    ratios = [kept(s, "MAC") / kept(s, "MAM") for s in seeds]
    assert result["ratio_kept"] == pytest.approx(ratios)
    per_seed = ", ".join(f"{v:.1f}x" for v in ratios)
    assert f"(per seed: {per_seed})" in stdout
    mean = statistics.fmean(ratios)
    if min(ratios) == max(ratios):
        assert f"keeps {mean:.1f}x as many" in stdout
    else:
        assert f"keeps {mean:.1f} ({min(ratios):.1f}..{max(ratios):.1f})x as many" in stdout


def test_the_curve_cells_are_means_over_seeds_with_min_and_max(quick):
    stdout, result = quick
    rows = result["rows"]
    table = [line for line in stdout.splitlines() if line.startswith("| 10% |")]
    assert len(table) == 1
    cells = [c.strip() for c in table[0].strip("|").split("|")]
    mac = [100 * r["float_acc"] for r in rows if (r["net"], r["method"], r["fraction"]) == ("MAC", "magnitude", 0.1)]
    text = f"{statistics.fmean(mac):.1f}"
    if min(mac) != max(mac):
        text += f" ({min(mac):.1f}..{max(mac):.1f})"
    assert cells[-1].startswith(text + " / ")


def test_the_equal_accuracy_ratio_takes_mac_down_to_mams_accuracy_at_its_level(quick):
    stdout, result = quick
    rows, levels, seeds = result["rows"], result["levels"], result["config"]["seeds"]
    expected = []
    for seed in seeds:
        mam = next(lv for lv in levels if (lv["seed"], lv["net"], lv["method"]) == (seed, "MAM", "magnitude"))
        curve = sorted((r for r in rows if (r["seed"], r["net"], r["method"]) == (seed, "MAC", "magnitude")),
                       key=lambda r: -r["fraction"])
        reached = [r for r in curve if r["val_acc"] >= mam["val_acc"]]
        first_short = next((k for k, r in enumerate(curve) if r["val_acc"] < mam["val_acc"]), len(curve))
        mac = curve[max(first_short - 1, 0)]
        assert not reached or mac in reached
        expected.append(mac["kept"] / mam["kept"])
    assert result["equal_accuracy_ratio_kept"] == pytest.approx(expected)
    gap = 100 * (statistics.fmean(r["val_acc"] for r in rows if (r["net"], r["method"], r["fraction"])
                                  == ("MAM", "magnitude", 1.0))
                 - statistics.fmean(r["val_acc"] for r in rows if (r["net"], r["method"], r["fraction"])
                                    == ("MAC", "magnitude", 1.0)))
    assert result["unpruned_gap_points"] == pytest.approx(gap)
    assert ("not at one accuracy" in stdout) == (abs(gap) > result["config"]["tolerance"])


def test_a_saved_run_prints_the_same_tables_without_training(quick, tmp_path):
    stdout, result = quick
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(result))
    proc = run_bench("pruning_curve.py", "--from-json", saved, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == stdout
    saved.write_text("{}")
    proc = run_bench("pruning_curve.py", "--from-json", saved, timeout=120)
    assert proc.returncode == 2 and "not a saved run" in proc.stderr and proc.stdout == ""
