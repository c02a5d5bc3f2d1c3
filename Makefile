# metaxy developer workflow. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -c constraints.txt
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install metaxy with every extra and the dev tools

demo: $(STAMP) ## Run the demo pipeline on an embedded store
	$(PY) examples/video_pipeline/run_demo.py

demo-dagster: $(STAMP) ## Run the demo pipeline as Dagster assets (three in-process runs)
	$(PY) examples/dagster_pipeline/definitions.py

test: $(STAMP) ## Run the test suite (small hypothesis profile)
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -n $(PYTEST_WORKERS) -q

test-spark: $(STAMP) ## The whole store suite on Spark too (make test runs each store operation on Spark once)
	METAXY_SPARK_FULL=1 HYPOTHESIS_PROFILE=ci $(PY) -m pytest -n $(PYTEST_WORKERS) -q -k spark tests/stores tests/compat

test-thorough: $(STAMP) ## Run the test suite with many more hypothesis examples
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -n $(PYTEST_WORKERS) -q

# full sizes of the stress probes (make test runs them small); override any of them: make stress STRESS_KILL_ROWS=100000
STRESS_WRITERS ?= 4
STRESS_APPENDS ?= 250
STRESS_KILL_ROWS ?= 2000000
STRESS_KILL_ROUNDS ?= 2
STRESS_THREADS ?= 8
STRESS_THREAD_APPENDS ?= 50
STRESS_REPORT ?= .stress-report.jsonl

stress: $(STAMP) ## Full-size probes (tests marked stress): writers x appends, kill -9 mid 2M-row writes, thread races, filter fuzz; prints their figures
	@rm -f $(STRESS_REPORT)
	METAXY_STRESS_WRITERS=$(STRESS_WRITERS) METAXY_STRESS_APPENDS=$(STRESS_APPENDS) \
	METAXY_STRESS_KILL_ROWS=$(STRESS_KILL_ROWS) METAXY_STRESS_KILL_ROUNDS=$(STRESS_KILL_ROUNDS) \
	METAXY_STRESS_THREADS=$(STRESS_THREADS) METAXY_STRESS_THREAD_APPENDS=$(STRESS_THREAD_APPENDS) \
	METAXY_STRESS_REPORT=$(abspath $(STRESS_REPORT)) HYPOTHESIS_PROFILE=thorough \
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q -m stress --durations=15
	$(PY) -m tests.stores._stress $(STRESS_REPORT)

lint: $(STAMP) ## ruff format check, ruff check, import layering
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

format: $(STAMP) ## Reformat and autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: $(STAMP) ## mypy (strict) on the package
	$(PY) -m mypy

bench: $(STAMP) ## Run the benchmarks and print a table (N=10k,100k; BENCH_N to change)
	$(PY) benchmarks/run.py

ANCHOR_VENV := .anchor-venv
# Metaxy 0.1.11 and the driver versions it was benchmarked with, in a virtualenv of its own
ANCHOR_PINS := 'metaxy[duckdb,delta]==0.1.11' 'duckdb==1.4.3' 'sqlglot==28.10.0' numpy

$(ANCHOR_VENV)/.installed-stamp:
	@test -x $(ANCHOR_VENV)/bin/python || $(PYTHON) -m venv $(ANCHOR_VENV)
	$(ANCHOR_VENV)/bin/pip install --quiet $(ANCHOR_PINS)
	@touch $@

bench-compare: $(STAMP) $(ANCHOR_VENV)/.installed-stamp ## Metaxy 0.1.11 vs the floor vs ours, same cells (BENCH_N, default 100k)
	$(PY) benchmarks/compare.py

docs: $(STAMP) ## Build the documentation site into site/ (strict: broken links and references fail)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs-serve: $(STAMP) ## Serve the documentation site on http://127.0.0.1:8000 with live reload
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

check: lint typecheck docs test ## Everything CI runs

clean: ## Remove caches and build output
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist site .cache test-artifacts *.egg-info .stress-report.jsonl

.PHONY: help install demo demo-dagster test test-spark test-thorough stress lint format typecheck docs docs-serve bench bench-compare check clean
