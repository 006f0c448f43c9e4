# The README's two set-up commands: `make demo` and `make test`.
# Each creates (or reuses) a virtual environment, installs torch first
# (TORCH_SPEC, overridable) and then graphvar with its extras, and runs.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= test,faiss,plot
PYTEST_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.graphvar-installed

# Spinning OpenMP threads make 2-core machines 5-10x slower under load.
export OMP_WAIT_POLICY ?= PASSIVE
export KEOPS_VERBOSE ?= 0
export PYKEOPS_VERBOSE ?= 0

# `make bench` reruns the fast experiments of benchmarks/manifest.toml (FULL=1: all of
# them, hours); `make bench-report` regenerates docs/results.md from the JSON records.
FULL ?=

.PHONY: demo test install clean bench bench-report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/graphvar demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_manifest.py $(if $(FULL),--full,)
	$(BIN)/python benchmarks/report.py

bench-report: $(STAMP)
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
