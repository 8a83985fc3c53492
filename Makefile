# Everything a fresh machine with only python3 needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit e2e coverage system-deps clean compiled pure test-compiled
# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 on
# this project's machines): without it every pytest worker rewrote the asserts of all the
# test modules, and every process a test starts (the CLI, servers, workers) compiled
# sockbench from source, each time. An empty value is "unset" to Python.
export PYTHONDONTWRITEBYTECODE :=
SUITE := pytest tests -q
PYTEST := $(BIN)/python -m $(SUITE)
# The suite runs in two passes: every test but the `solo` ones on 4 processes (pytest-xdist),
# then the `solo` ones alone (a Ray cluster, a timed catch-up: tests/support/tiers.py).
# 4 on CI's 2 cores: most e2e tests wait out a window rather than compute, and their timing
# bounds are loose. On this 2-core machine, 2,240 tests: 360 s on 3 processes, 326 s on 4
# (CPU 96 % busy: more would not help). worksteal, not xdist's default (load): a process
# out of tests takes half of a busy one's queue, so the seconds-long tests do not pile up
# at the end: 2,479 tests, 280, 283 and 294 s against 313, 318 and 320 s (run in turn).
PARALLEL := -n 4 --dist worksteal

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# (setuptools boxes a notice on every editable install of a flat layout: not ours to act on)
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[dev,plot,uvloop,ray]'
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
# unit: the pure tests, in seconds (under 20 s): no process, socket or browser, no whole
# report with charts. On 2 processes: 1,455 tests in 14.8 s (15.5 s wall, bytecode cached).
unit: $(STAMP)
	$(PYTEST) -n 2 -m unit

# Real servers, real sockets, real files, chromium; and the slow pure tests.
e2e: $(STAMP)
	$(PYTEST) $(PARALLEL) -m "(e2e or slow) and not solo"
	$(PYTEST) -m "(e2e or slow) and solo"

# Every tier (about 7 min on 2 cores, the venv included: 6 min 53 s in a fresh clone).
test: $(STAMP) system-deps lint typecheck
	$(PYTEST) $(PARALLEL) -m "not solo"
	$(PYTEST) -m solo

# The optional compiled build, in place (setup.py; docs/performance.md, "The compiled
# build"): each hot module's .so sits beside its .py and is what imports, so this
# checkout's every command and test runs compiled until `make pure`. `sockbench --version`
# says which build runs, and names a source edited since the build (which does not run).
# (build/lib.*: the copies a wheel built here would pick up, whatever they are of: gone.)
compiled: $(STAMP)
	rm -rf build/lib.*
	SOCKBENCH_COMPILE=1 $(BIN)/python setup.py --quiet build_ext --inplace

pure:
	find sockbench -name '*.so' -delete
	rm -rf build/lib.* sockbench/hot.sources

# The whole suite against the compiled build (not in CI: its ~80 s build does not fit CI's
# 8 minutes); the tree stays compiled afterwards.
test-compiled: compiled system-deps
	$(BIN)/sockbench --version
	$(PYTEST) $(PARALLEL) -m "not solo"
	$(PYTEST) -m solo

# Branch coverage of the whole suite, sockbench's own processes included ([tool.coverage]).
coverage: $(STAMP)
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/python -m coverage run -m $(SUITE) $(PARALLEL) -m "not solo"
	COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/python -m coverage run -m $(SUITE) -m solo
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report --skip-covered --sort=cover

clean: pure
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache .coverage .coverage.*
