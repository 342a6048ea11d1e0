# The two commands: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# Test processes (pytest-xdist), one test file per process at a time: much
# of the suite waits on real servers, subprocesses and databases.
PYTEST_WORKERS ?= 2

.PHONY: install chromium catalogs test lint typecheck pytest demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The browser tests drive Debian's Chromium; installed here where missing (as
# root, with apt-get). Without it they are skipped, except with CI=true, where
# tests/browser fails the run.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get install -y -q chromium >/dev/null 2>&1 || \
			(apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) || \
			echo "could not install Chromium with apt-get" >&2; \
		else echo "Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)" >&2; fi; \
	fi

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy src

# PostgreSQL: used when a server answers at 127.0.0.1:5432 (or at the URL
# already in DETENTE_TEST_DATABASE_URL); with CI=true its absence fails the run.
pytest: install chromium
	@url="$${DETENTE_TEST_DATABASE_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -m detente.store.probe "$(PG_URL)"; then url="$(PG_URL)"; fi; \
	if [ -n "$$url" ]; then echo "databases tested: SQLite and PostgreSQL ($$url)"; \
	elif [ "$${CI:-}" = "true" ]; then echo "CI=true and no PostgreSQL answers at $(PG_URL): failing" >&2; exit 1; \
	else echo "databases tested: SQLite only (no PostgreSQL at $(PG_URL))"; fi; \
	DETENTE_TEST_DATABASE_URL="$$url" $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint typecheck pytest

demo: install
	$(BIN)/detente demo $(DEMO_ARGS)

# The console's translations: extract the strings, merge them into each
# language's catalog (then translate the new entries in the .po files).
LOCALES := src/detente/console/locale
catalogs: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ --no-location --sort-output \
		--project=detente -o $(LOCALES)/console.pot .
	$(BIN)/pybabel update -D console -i $(LOCALES)/console.pot -d $(LOCALES) --no-fuzzy-matching

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage build src/*.egg-info
