# Loopline developer commands. `make run` and `make test` are the two a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run demo test lint bench i18n peers clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

## run: set up and serve on SQLite (./loopline.db) with the simulator at http://127.0.0.1:8000/simulator
run: $(STAMP)
	$(BIN)/loopline migrate
	$(BIN)/loopline serve --host 127.0.0.1 --port $${PORT:-8000}

## demo: like run, with demo content in six languages (a health poll, two events) to try in the simulator
demo: $(STAMP)
	$(BIN)/loopline migrate
	$(BIN)/loopline demo --residents
	$(BIN)/loopline serve --host 127.0.0.1 --port $${PORT:-8000}

peers:
	bash .ci/install-peers
	bash .ci/install-browser

## test: set up and run the whole suite (SQLite always; PostgreSQL too when LOOPLINE_TEST_POSTGRES_URL is set)
test: $(STAMP) peers
	$(BIN)/ruff check bot tests migrations
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot tests migrations
	$(BIN)/ruff format --check bot tests migrations
	$(BIN)/mypy

## bench: webhook throughput/latency against a bare ASGI app, broadcast enqueue and drain pace, staff pages at city scale (see tests/perf/README.md)
bench: $(STAMP)
	$(BIN)/python -m tests.perf.bench_webhook && $(BIN)/python -m tests.perf.bench_broadcast && $(BIN)/python -m tests.perf.bench_dashboard

## i18n: extract the bot's messages (code and flow files) and update every catalog
i18n: $(STAMP)
	$(BIN)/pybabel extract -F locales/babel.cfg -o locales/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .peers .pytest_cache .mypy_cache .ruff_cache
