# The two commands of the README: `make demo` (the main job) and `make test` (the whole test suite).
# Both install what they need first; the stamp file re-runs the set-up when the dependencies change.
PYTHON ?= python3
STAMP := .setup-stamp

.PHONY: demo test bench setup

demo: $(STAMP)
	$(PYTHON) -m mamhw demo

test: $(STAMP)
	$(PYTHON) -m pytest

bench: $(STAMP)
	$(PYTHON) bench/pe_throughput.py

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) sh scripts/setup.sh
	touch $@
