# contract-sync: `make demo` and `make test` set everything up on a new machine.
SHELL := /bin/bash
PYTHON ?= python3.11
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

.PHONY: install demo test lint serve stop bench clean

$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or make PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(CLI) db upgrade
	$(CLI) demo seed --companies 2 --contracts 16 --items-per-contract 12 --seed 7 --skip-existing
	$(CLI) demo edit-erp --fraction 0.4
	$(CLI) sync --company 1 --company 2

# pytest's exit code 5 (no tests collected) is a failure here, not a success.
test: install
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests were collected"; exit 1; fi; exit $$status

# A local Prefect server (UI on http://127.0.0.1:4200), the deployments of prefect.yaml and
# a worker; `make stop` ends them. PREFECT_PORT=... picks another port.
serve: install
	$(CLI) db upgrade
	scripts/serve.sh

stop:
	scripts/stop.sh

# Company scale: 5,000 contracts x 200 items on SQLite (BENCH_ARGS="--backend postgresql ...").
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf data .prefect
