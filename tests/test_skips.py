"""Under CI=true a skipped test fails (tests/conftest.py): the tests' tools and packages are all installed by
`make test`, so a skip there would hide a missing install step. Outside CI a skip stays a skip."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SKIPPING = '''
import pytest

def test_skips_in_the_test():
    pytest.skip("some tool missing")

@pytest.mark.skipif(True, reason="a condition")
def test_skipped_by_a_mark():
    pass

@pytest.mark.xfail(reason="known")
def test_an_expected_failure_stays_one():
    assert False

def test_passes():
    pass
'''

SKIPPING_MODULE = '''
import pytest
pytest.importorskip("no_such_module_mamhw")

def test_never_collected():
    pass
'''


def _pytest(tmp_path, source, ci):
    (tmp_path / "test_case.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q",
                           "-rA", str(tmp_path / "test_case.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_skip_in_a_test_fails_under_ci(tmp_path, ci):
    proc = _pytest(tmp_path, SKIPPING, ci)
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in proc.stdout, proc.stdout      # the mark skips in set-up
    assert "skipped under CI (Skipped: some tool missing)" in proc.stdout


def test_a_module_skipped_at_collection_fails_under_ci(tmp_path):
    proc = _pytest(tmp_path, SKIPPING_MODULE, "true")
    assert proc.returncode != 0 and "skipped under CI" in proc.stdout, proc.stdout
    assert "no_such_module_mamhw" in proc.stdout


@pytest.mark.parametrize("ci", [None, "false", "0", ""])
def test_a_skip_stays_a_skip_outside_ci(tmp_path, ci):
    proc = _pytest(tmp_path, SKIPPING, ci)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in proc.stdout, proc.stdout
