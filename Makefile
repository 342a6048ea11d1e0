# The two commands: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install test lint typecheck pytest demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy src

# PostgreSQL: used when a server answers at 127.0.0.1:5432 (or at the URL
# already in DETENTE_TEST_DATABASE_URL); with CI=true its absence fails the run.
pytest: install
	@url="$${DETENTE_TEST_DATABASE_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -m detente.store.probe "$(PG_URL)"; then url="$(PG_URL)"; fi; \
	if [ -n "$$url" ]; then echo "databases tested: SQLite and PostgreSQL ($$url)"; \
	elif [ "$${CI:-}" = "true" ]; then echo "CI=true and no PostgreSQL answers at $(PG_URL): failing" >&2; exit 1; \
	else echo "databases tested: SQLite only (no PostgreSQL at $(PG_URL))"; fi; \
	DETENTE_TEST_DATABASE_URL="$$url" $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

demo: install
	$(BIN)/detente demo $(DEMO_ARGS)

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage build src/*.egg-info
