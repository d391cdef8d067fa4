# township-indicators: `make run` sets up and runs the monthly job locally; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: run test install serve bench clean docs

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## run: create the warehouse, load the catalog, and run the main job on the local default (SQLite)
run: $(STAMP)
	$(BIN)/township init

## test: the whole suite, on SQLite and a real PostgreSQL started for it
test: $(STAMP)
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/python -m warehouse.docs > docs/warehouse.md

clean:
	rm -rf data test-output
