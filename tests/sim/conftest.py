import pytest

from mamhw.sim.formal import formal_tools


@pytest.fixture
def tools():
    # SymbiYosys and yices come with the test extra: missing, they fail the proofs here, they never skip them.
    return formal_tools()
