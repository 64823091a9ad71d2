# docfleet — `make test` installs what it needs from nothing, starts any service that is down, and
# runs lint, the import contract and every test. `make run` starts the fleet in the foreground.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install services migrate lint test test-fast run bench schemas clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
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

test: install services lint
	$(BIN)/python -m scripts.check_migrations
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest tests/unit

run: install services migrate
	$(BIN)/honcho start -f Procfile worker relay

schemas: install
	$(BIN)/python -m workers.schemas

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
