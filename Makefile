# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit wheel-check clean

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo-out
	$(BIN)/pairsift demo -o demo-out

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q --durations=25

test: lint typecheck unit

# build the wheel, install it with [all] into a fresh venv, run `pairsift demo --quick` outside the checkout
wheel-check: $(STAMP)
	PYTHON=$(BIN)/python .ci/wheel-check

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
