# potok — the two commands a new user types are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
NPM_STAMP := node_modules/.installed-$(shell cat package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
export POTOK_TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint typecheck pytest bench install frontend browser clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; \
	  test -x $(BIN)/python || $${PYTHON:-$(PYTHON)} -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) frontend

frontend:
	@if [ -f package.json ]; then \
	  if [ ! -f "$(NPM_STAMP)" ]; then npm ci --no-audit --no-fund && touch "$(NPM_STAMP)"; fi; \
	  npm run --silent build; \
	fi

## make run: install, migrate the embedded SQLite database, load demo data and processes, serve.
run: install
	$(BIN)/potok db upgrade
	$(BIN)/potok demo load
	$(BIN)/potok serve --embedded

## Debian's chromium for the real-browser tests (a new machine does not have it).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check engine handlers connectors api tests benchmarks
	$(BIN)/ruff format --check engine handlers connectors api tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) frontend browser
	$(BIN)/pytest -q

## make test: lint, types, and the whole suite (SQLite + PostgreSQL, brokers, browser).
## Every step runs even when an earlier one failed, so one run shows every problem.
test: $(STAMP) frontend browser
	@status=0; \
	  $(MAKE) --no-print-directory lint || status=1; \
	  $(MAKE) --no-print-directory typecheck || status=1; \
	  $(MAKE) --no-print-directory pytest || status=1; \
	  exit $$status

bench: install
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
