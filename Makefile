# docfleet — `make test` installs what it needs from nothing, starts any service that is down, and
# runs lint, the import contract and every test. `make run` starts the fleet in the foreground.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install services migrate lint test test-unit test-integration test-e2e run bench demo tail schemas clean

$(INSTALLED): pyproject.toml
	@# a .venv left by an older Python (a first try with one below 3.11) is made again with $(PYTHON)
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
		|| { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

services:
	@scripts/ensure-services

migrate: install services
	$(BIN)/docfleet migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy .

# A test past its 300 s is interrupted by pytest-timeout; one whose clean-up then waits forever has its
# stacks printed at 360 s (faulthandler_timeout), and the run is interrupted at PYTEST_LIMIT_S (where
# coreutils' timeout is installed), so a hang fails with its place named rather than holding CI to its
# own limit.
PYTEST_LIMIT_S ?= 2400
RUN_LIMITED := $(if $(shell command -v timeout),timeout --foreground --signal=INT --kill-after=60 $(PYTEST_LIMIT_S))

test: install services lint
	$(BIN)/python -m scripts.check_migrations
	$(RUN_LIMITED) $(BIN)/pytest

test-unit: install
	$(BIN)/pytest -m "not integration and not e2e"

test-integration: install services
	$(BIN)/pytest -m integration

test-e2e: install services
	$(BIN)/pytest -m e2e

# The Procfile's command (docfleet) is the venv's: put it first on PATH for it. No .env file:
# the fleet reads the environment that ensure-services and migrate read, not one of its own.
run: install services migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -e /dev/null worker relay

# Not part of `make test`: figures, not checks. BENCH_ARGS=--quick for a short run.
bench: install services
	$(BIN)/python -m bench $(BENCH_ARGS)

demo: install
	$(BIN)/docfleet demo

tail: install
	$(BIN)/docfleet events tail

schemas: install
	$(BIN)/python -m workers.schemas

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
