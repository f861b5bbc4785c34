# The two commands of the README: `make demo` (the main job) and `make test` (the whole test suite).
# Both install what they need first; the stamp file re-runs the set-up when the dependencies change. There is one
# stamp per interpreter (PYTHON=/path/to/venv/bin/python installs into that environment, which needs its own).
PYTHON ?= python3
STAMP := .setup-stamp.$(shell printf '%s' '$(PYTHON)' | cksum | cut -d' ' -f1)

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
