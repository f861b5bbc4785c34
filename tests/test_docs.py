"""The docs a user reads: the README stays short, every benchmark records into its own section of
docs/measurements.md and into nothing else, and no file of the project points at things a user does not have
(issue numbers, the team's own notes and folders)."""

import os
import re
import subprocess
import sys

import pytest

from tests.bench_scripts import bench_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
MEASUREMENTS = os.path.join(ROOT, "docs", "measurements.md")
README_MAX_LINES = 200


m = bench_module("measurements")


def _tracked(*patterns):
    """Paths (relative to ROOT) of the files git tracks, optionally only those matching git pathspecs."""
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--", *patterns], capture_output=True, check=True)
    return sorted(p for p in out.stdout.decode().split("\0") if p)


def _benches():
    """Benchmark scripts: bench/*.py, the recorder module aside."""
    return [os.path.basename(p)[:-3] for p in _tracked("bench/*.py") if os.path.basename(p) != "measurements.py"]


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------------- the README

def test_readme_is_under_200_lines():
    lines = _read(README).splitlines()
    assert len(lines) < README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it under {README_MAX_LINES}: design explanations go to "
        "docs/design.md, figures to docs/measurements.md")


def test_doc_links_point_at_files_that_exist():
    for doc in ("README.md", "docs/design.md", "docs/measurements.md"):
        text = _read(os.path.join(ROOT, doc))
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), target))
            assert os.path.exists(path), f"{doc} links to {target}, which does not exist"


# ------------------------------------------------------------------------------------------ docs/measurements.md

def test_every_bench_has_its_section_and_records_into_it():
    text = _read(MEASUREMENTS)
    benches = _benches()
    assert benches, "no benchmark scripts found"
    for name in benches:
        assert m.find_section(text, name) is not None, (
            f"docs/measurements.md has no section for bench/{name}.py: add {m.begin_marker(name)} ... "
            f"{m.end_marker(name)} (or run python bench/{name}.py --record)")
        source = _read(os.path.join(ROOT, "bench", f"{name}.py"))
        assert re.search(rf"""measurements\.run\(\s*["']{name}["']""", source), (
            f"bench/{name}.py does not record: end it with sys.exit(measurements.run({name!r}, main))")
    orphans = {name for name in m.section_names(text) if not os.path.exists(os.path.join(ROOT, "bench", f"{name}.py"))}
    assert not orphans, f"docs/measurements.md has sections of no benchmark: {sorted(orphans)}"


def _outside(text, name):
    start, end = m.find_section(text, name)
    return text[:start], text[end:]


def test_recording_replaces_only_its_own_section(tmp_path):
    original = _read(MEASUREMENTS)
    names = m.section_names(original)
    assert len(names) == len(set(names)) >= 2
    for name in names:
        path = tmp_path / "measurements.md"
        path.write_text(original, encoding="utf-8")
        m.record(name, f"fresh output of {name}\n| a | b |\n", ["--seeds", "1"], path=str(path), date="2000-01-02",
                 commit="abc1234")
        text = path.read_text(encoding="utf-8")
        assert _outside(text, name) == _outside(original, name), f"recording {name} changed text outside its section"
        for other in names:
            if other != name:
                s0, e0 = m.find_section(original, other)
                s1, e1 = m.find_section(text, other)
                assert text[s1:e1] == original[s0:e0]
        start, end = m.find_section(text, name)
        body = text[start:end]
        assert f"fresh output of {name}" in body
        assert f"`python bench/{name}.py --seeds 1 --record`" in body and "2000-01-02" in body and "abc1234" in body


def test_recording_twice_gives_the_same_file(tmp_path):
    path = tmp_path / "measurements.md"
    path.write_text(_read(MEASUREMENTS), encoding="utf-8")
    m.record("fmax", "x\n", [], path=str(path), date="2000-01-02", commit="abc1234")
    once = path.read_text(encoding="utf-8")
    m.record("fmax", "x\n", [], path=str(path), date="2000-01-02", commit="abc1234")
    assert path.read_text(encoding="utf-8") == once


@pytest.mark.parametrize("broken", [
    "<!-- bench:x -->\na\n<!-- bench:x -->\nb\n<!-- /bench:x -->\n",           # two begin markers
    "<!-- bench:x -->\na\n",                                                    # no end marker
    "<!-- /bench:x -->\na\n<!-- bench:x -->\n",                                 # end before begin
    "<!-- bench:x -->\n<!-- bench:y -->\n<!-- /bench:y -->\n<!-- /bench:x -->\n",  # another section inside
])
def test_broken_markers_are_refused_and_nothing_is_written(tmp_path, broken):
    path = tmp_path / "measurements.md"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(m.SectionError):
        m.record("x", "new\n", [], path=str(path), commit="abc1234")
    assert path.read_text(encoding="utf-8") == broken
    assert os.listdir(tmp_path) == ["measurements.md"]


def test_a_missing_section_is_appended(tmp_path):
    path = tmp_path / "measurements.md"
    path.write_text("# Measurements\n\nkept as is\n", encoding="utf-8")
    m.record("new_bench", "figures\n", [], path=str(path), date="2000-01-02", commit="abc1234")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Measurements\n\nkept as is\n")
    start, end = m.find_section(text, "new_bench")
    assert "figures" in text[start:end]


def test_markdown_output_sits_under_the_section_heading():
    body = m.section_text("x", "## title\n\n| a |\n|---|\n", [], markdown=True, date="2000-01-02", commit="c")
    assert "#### title" in body and "| a |" in body and "```" not in body
    body = m.section_text("x", "  P  cycles\n  4  1024\n", [], date="2000-01-02", commit="c")
    assert "```text\n  P  cycles\n  4  1024\n```" in body


def test_a_bench_script_records_through_its_command_line(tmp_path):
    """The whole path: the script's own arguments, what it prints, and the section it rewrites in a copy."""
    path = tmp_path / "measurements.md"
    original = _read(MEASUREMENTS)
    path.write_text(original, encoding="utf-8")
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "pe_throughput.py"), "--size", "8",
                          "--densities", "1.0", f"--record={path}"], capture_output=True, text=True, timeout=600,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    text = path.read_text(encoding="utf-8")
    assert _outside(text, "pe_throughput") == _outside(original, "pe_throughput")
    start, end = m.find_section(text, "pe_throughput")
    body = text[start:end]
    assert "`python bench/pe_throughput.py --size 8 --densities 1.0 --record`" in body
    table = [line for line in run.stdout.splitlines() if "entries/cycle" in line]
    assert table and table[0] in body
    assert _read(MEASUREMENTS) == original


# ------------------------------------------------------------------------ what a user of the project cannot see

# What a user has none of: issue numbers, references to the team's issue, and the team's own notes and folders.
FORBIDDEN = [
    ("an issue number", re.compile(r"\bissue\s*#?\s*\d+", re.I)),
    ("the team's issue", re.compile(r"\bthe\s+issue(?:'s)?\b", re.I)),
    ("an issue reference", re.compile(r"(?<![\w&/#])#\d{1,5}\b(?![0-9a-fA-F])")),
    ("a team notes file", re.compile(r"\b(?:DESIGN|NOTES|TODO|PLAN|STATUS|HANDOFF)\.md\b")),
    ("the team's shared folder", re.compile(r"\.\./shared\b")),
]
# In the docs a user reads, the team's working rounds mean nothing either.
USER_DOCS = ("README.md", "docs/")
ROUNDS = re.compile(r"\b(?:this|last|next|previous|earlier)\s+round\b", re.I)

# Known mentions in files whose owners have yet to remove them: path -> how many. A file may have at most this
# many; once its count falls, lower it here (or drop the entry), so that the list only shrinks.
PENDING = {}


def _mentions(path, text):
    found = []
    for what, pattern in FORBIDDEN:
        found += [(what, match.group(0)) for match in pattern.finditer(text)]
    if path == "README.md" or path.startswith("docs/"):
        found += [("a working round", match.group(0)) for match in ROUNDS.finditer(text)]
    return found


def test_no_file_mentions_issue_numbers_or_team_files():
    counts, problems = {}, []
    for path in _tracked():
        full = os.path.join(ROOT, path)
        if not os.path.isfile(full):
            continue                                    # deleted in the work tree, not yet committed
        with open(full, "rb") as f:
            data = f.read()
        if b"\0" in data:
            continue                                    # binary (images)
        found = _mentions(path, data.decode("utf-8", errors="replace"))
        if found:
            counts[path] = len(found)
            if len(found) > PENDING.get(path, 0):
                problems.append(f"{path}: " + "; ".join(f"{what}: {text!r}" for what, text in found))
    assert not problems, "files mention what a user does not have:\n" + "\n".join(problems)
    fixed = {path: (n, counts.get(path, 0)) for path, n in PENDING.items() if counts.get(path, 0) < n}
    assert not fixed, f"fewer mentions than PENDING lists (lower or drop these entries): {fixed}"


def test_the_check_catches_what_it_should():
    issue = "iss" + "ue"                                # spelled apart, so that this file passes its own check
    assert _mentions("x.py", f"targets from {issue} 6") and _mentions("x.py", f"as in {issue} #" + "12")
    assert _mentions("x.py", f"the {issue}'s clock targets") and _mentions("x.py", "fixes #" + "6")
    assert _mentions("x.py", "see DESIGN" + ".md section 3") and _mentions("x.py", "in .." + "/shared/notes")
    assert _mentions("README.md", "last " + "round's medians") and not _mentions("x.py", "last " + "round's")
    for fine in ("# 1 comment", "color #1f77b4", "docs/design.md", "lottery-ticket rounds", f"{issue}s a reset",
                 "[link](docs/measurements.md#the-demo)", "x = a[#]"):
        assert not _mentions("x.py", fine), fine
