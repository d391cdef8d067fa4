# township-indicators: `make run` sets up and runs the monthly job locally; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: run test install serve bench bench-process faults clean docs

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## run: warehouse + catalog, the demo inbox (first time), then 2021 replayed month by month: intake what had
## arrived by the 10th, publish; late corrections then give vintage 2 where a published figure changed
run: $(STAMP)
	$(BIN)/township init
	@if [ -z "$$(ls -A data/inbox 2>/dev/null)" ]; then $(BIN)/township demo; fi
	$(BIN)/township cycle --year 2021
	@echo "Reports: data/published/taoyuan/<period>/v<vintage>/report.html, e.g. 2021-10/v1 and 2021-09/v2;"
	@echo "the county's: data/published/demo_county/<period>/v<vintage>/report.html"

## test: what the tests need from the machine (scripts/test-deps.sh), then the whole suite, on SQLite and a
## real PostgreSQL started for it, in two processes (the system tests, which share one Prefect stack, in one)
TEST_WORKERS ?= 2
test: $(STAMP)
	scripts/test-deps.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

## serve: a local Prefect server, the work pool, every deployment and a worker (Ctrl-C stops it all)
serve: $(STAMP)
	$(BIN)/python scripts/serve.py

## bench: the scale benchmarks (never part of `make test`)
bench: $(STAMP)
	$(BIN)/python -m bench.run

## bench-process: what users run, timed whole (the `township` process, a deployment run), next to the limit
bench-process: $(STAMP)
	$(BIN)/python -m bench.process --sizes township,county --backends sqlite,postgresql

## faults: kill, crash and starve intake, then check nothing was lost or doubled (writes bench/FAULTS.md)
faults: $(STAMP)
	$(BIN)/python -m bench.faults

docs: $(STAMP)
	$(BIN)/python -m warehouse.docs > docs/warehouse.md

clean:
	rm -rf data test-output
