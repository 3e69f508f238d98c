# contract-sync: `make demo` and `make test` set everything up on a new machine.
SHELL := /bin/bash
# The interpreter for .venv: PYTHON if given (make PYTHON=...), else the first of
# PY_CANDIDATES that runs and is a supported version (found once, only when needed).
PY_SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))
PY_CANDIDATES := python3.11 python3.12 python3.13 python3
PYTHON ?= $(eval PYTHON := $(shell for p in $(PY_CANDIDATES); do \
	$$p -c '$(PY_SUPPORTED)' >/dev/null 2>&1 && { echo $$p; break; }; done))$(PYTHON)
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/contract-sync

# Prefect keeps its home (ephemeral server database, settings) inside the project.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_LOGGING_EXTRA_LOGGERS := contract_sync
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore
export GX_ANALYTICS_ENABLED := false

.PHONY: install lock demo demo-procore bench-procore test test-arrow quick fuzz lint serve stop bench bench-cli bench-served procore-sim clean

# Installs come from the lock (uv.lock: every version the tests pass with), through uv, kept
# in a small venv of its own (.tools); `make lock` moves the lock to the newest versions the
# ranges in pyproject.toml allow. Every module is compiled to bytecode as it is installed
# (the product's own too): where PYTHONDONTWRITEBYTECODE is set, as container images often
# set it, each command would otherwise compile the libraries it imports again, every time
# (`contract-sync ready` on the demo: seconds more a command).
UV_VERSION := 0.13.9
OWN_CODE := contract_sync faces flows tasks
UV := .tools/bin/uv

$(UV):
	@if [ -z "$(PYTHON)" ]; then echo "needs Python 3.11, 3.12 or 3.13: none of $(PY_CANDIDATES) on PATH is one (or make PYTHON=...)"; exit 1; \
	elif ! $(PYTHON) -c '$(PY_SUPPORTED)' >/dev/null 2>&1; then echo "needs Python 3.11, 3.12 or 3.13: $(PYTHON) is not one, or does not run"; exit 1; fi
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra dev --python $(PYTHON) --quiet --compile-bytecode
	$(BIN)/python -m compileall -q $(OWN_CODE)
	touch $@

install: $(BIN)/.installed

lock: $(UV)
	$(UV) lock --upgrade

demo: install
	$(CLI) db upgrade
	$(CLI) demo seed --companies 2 --contracts 16 --items-per-contract 12 --seed 7 --skip-existing
	$(CLI) demo edit-erp --fraction 0.4
	$(CLI) sync --company 1 --company 2

# The tests run in WORKERS processes (pytest-xdist), a module's tests on one backend in one
# of them (tests/conftest.py). More workers than cores pays: the tests wait on the commands,
# servers and databases they start.
WORKERS ?= 3
PYTEST := $(BIN)/pytest -n $(WORKERS)

# pytest's exit code 5 (no tests collected) is a failure here, not a success.
define run_tests
	$(or $(2),$(PYTEST)) $(1); status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests were collected"; exit 1; fi; exit $$status
endef

# Every test, as CI runs them.
test: install
	$(call run_tests)

# The quick loop: every test but the slow ones (a Prefect server, the benchmark, a wheel).
quick: install
	$(call run_tests,-m "not slow")

# The quick loop again with the `arrow` extra installed (in a venv of its own): pandas keeps
# text in Arrow, as most data teams' environments make it, and the ERP is read through ADBC
# (contract_sync/arrow_reads.py). On SQLite, as which storage pandas picks does not depend
# on the store; the Arrow reads' own tests on PostgreSQL too when it is given.
ARROW_VENV := .venv-arrow

$(ARROW_VENV)/bin/.installed: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(ARROW_VENV) $(UV) sync --locked --extra dev --extra arrow --python $(PYTHON) --quiet --compile-bytecode
	$(ARROW_VENV)/bin/python -m compileall -q $(OWN_CODE)
	touch $@

test-arrow: $(ARROW_VENV)/bin/.installed
	$(ARROW_VENV)/bin/python -c 'import pandas, pyarrow; assert pandas.Series(["x"]).array.__class__.__name__ == "ArrowStringArray"'
	CONTRACT_SYNC_TEST_POSTGRES_URL= $(call run_tests,-m "not slow",$(ARROW_VENV)/bin/pytest -n $(WORKERS))
	$(call run_tests,tests/test_arrow_reads.py,$(ARROW_VENV)/bin/pytest -n $(WORKERS))

# The ERP fuzz test of the suite (tests/test_fuzz.py) at size: FUZZ_MUTATIONS per backend,
# shared by the files and the Vista connectors (SQLite; PostgreSQL too when
# CONTRACT_SYNC_TEST_POSTGRES_URL is set); it prints its figures. FUZZ_ARGS goes to pytest.
FUZZ_MUTATIONS ?= 10000
fuzz: install
	FUZZ_MUTATIONS=$(FUZZ_MUTATIONS) $(BIN)/pytest -q -s -p no:cacheprovider tests/test_fuzz.py $(FUZZ_ARGS)

# A local Prefect server (UI on http://127.0.0.1:4200), the deployments of prefect.yaml and
# a worker; `make stop` ends them. PREFECT_PORT=... picks another port.
serve: install
	$(CLI) db upgrade
	scripts/serve.sh

stop:
	scripts/stop.sh

# Company scale: 5,000 contracts x 200 items on SQLite (BENCH_ARGS="--backend postgresql ..."),
# with the `arrow` extra (the ERP read through Arrow; the floor reads it through SQLAlchemy's
# rows too). Each benchmark adds its run's line to bench/history.tsv and writes its full JSON
# to bench/results/ (ignored by git); BENCH_ARGS=--keep writes it to bench/results/cited/.
bench: $(ARROW_VENV)/bin/.installed
	$(ARROW_VENV)/bin/python -m bench $(BENCH_ARGS)

# The command line's wall time on the demo (ready, reimport one contract, make demo again).
bench-cli: install
	$(BIN)/python -m bench.cli $(BENCH_ARGS)

# Prefect's own cost per run of a served deployment (server, worker, process start, tasks).
bench-served: install
	$(BIN)/python -m bench.served $(BENCH_ARGS)

# The Procore simulator (test equipment, simulators/procore; not in the product's wheel):
# Procore's REST API for the calls a re-import makes, in memory, seeded from its fixture, on
# http://127.0.0.1:$(PROCORE_SIM_PORT), its own control API under /_sim. PROCORE_SIM_ARGS goes
# to it (--fixture FILE, --rate-limit N, --rate-window S, --token-ttl S).
PROCORE_SIM_PORT ?= 8765
procore-sim: install
	$(BIN)/python -m simulators.procore --port $(PROCORE_SIM_PORT) $(PROCORE_SIM_ARGS)

# Procore requests per scenario through the simulator (bench/procore.py; BENCH_ARGS: --contracts,
# --items-per-contract, --edited, --keep).
bench-procore: install
	$(BIN)/python -m bench.procore $(BENCH_ARGS)

# The demo with Procore as the store, against the simulator (data/procore-demo/): a first
# import, an ERP edit and a Procore edit, a sync; the requests each step sent.
demo-procore: install
	$(BIN)/python -m simulators.procore.demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf data .prefect
