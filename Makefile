# township-indicators: `make run` sets up and runs the monthly job locally; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: run test install serve bench clean docs

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## run: warehouse + catalog, the demo inbox (first time), intake, then publish every month of 2021
run: $(STAMP)
	$(BIN)/township init
	@if [ -z "$$(ls -A data/inbox 2>/dev/null)" ]; then $(BIN)/township demo; fi
	$(BIN)/township intake
	$(BIN)/township publish --year 2021
	@echo "Report: data/published/taoyuan/2021-12/v1/report.html (and one folder per month)"

## test: the whole suite, on SQLite and a real PostgreSQL started for it
test: $(STAMP)
	$(BIN)/python -m pytest

## serve: a local Prefect server, the work pool, every deployment and a worker (Ctrl-C stops it all)
serve: $(STAMP)
	$(BIN)/python scripts/serve.py

## bench: the scale benchmarks (never part of `make test`)
bench: $(STAMP)
	$(BIN)/python -m bench.run

docs: $(STAMP)
	$(BIN)/python -m warehouse.docs > docs/warehouse.md

clean:
	rm -rf data test-output
