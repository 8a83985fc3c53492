# Everything a fresh machine with only python3 needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit e2e system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,uvloop,ray]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sockbench run --proto tcp --clients 5000

# Peers the tests load for real (redis-server, memcached, socat) and the browser that checks HTML reports.
system-deps:
	@bash .ci/system-deps

lint: $(STAMP)
	$(BIN)/ruff check sockbench tests benchmarks examples
	$(BIN)/ruff format --check sockbench tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

# Test tiers (tests/support/tiers.py): every test is marked unit, e2e or slow (core/,
# report/ and compare/ are unit unless marked); a test with no tier fails collection, and a
# unit test that opens a socket or starts a process fails.
# The pure tests, in seconds: no process, socket or browser, no whole report with charts.
unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -m unit

# Real servers, real sockets, real files, chromium; and the slow pure tests.
e2e: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "e2e or slow"

test: $(STAMP) system-deps lint typecheck
	$(BIN)/python -m pytest tests -q

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
