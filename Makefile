# Loopline developer commands. `make run` and `make test` are the two a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every Python package, direct and transitive, pinned with hashes by uv (see README, "Dependencies").
LOCK := requirements.lock
LOCK_COMMAND = $(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes --quiet -o $(LOCK)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: run demo test test-fast lint bench i18n lock peers clean
# Tests run on every core (pytest-xdist); each worker has its own databases.
PYTEST := $(BIN)/pytest -q -n auto
# Bytecode caches (the ignored __pycache__ folders) on, whatever the machine says: the suite starts a hundred Python
# processes, and without them each compiles everything it imports again (collection alone: 9 s instead of 4).
unexport PYTHONDONTWRITEBYTECODE

# A new venv whenever the lock or pyproject.toml changes (the stamp's name is their checksum, so a touched but
# unchanged file does not count), holding exactly what the lock names: the locked packages (hashes checked, no
# resolver), then the project itself, built by the locked setuptools.
$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

## run: set up and serve on SQLite (./loopline.db) with the simulator at http://127.0.0.1:8000/simulator
run: $(STAMP)
	$(BIN)/loopline migrate
	$(BIN)/loopline serve --host 127.0.0.1 --port $${PORT:-8000}

## demo: like run, with demo content in six languages (a health poll, two events) to try in the simulator
demo: $(STAMP)
	$(BIN)/loopline migrate
	$(BIN)/loopline demo --residents --url http://127.0.0.1:$${PORT:-8000}
	$(BIN)/loopline serve --host 127.0.0.1 --port $${PORT:-8000}

peers:
	bash .ci/install-peers
	bash .ci/install-browser

## test: set up and run the whole suite (SQLite always; PostgreSQL too when LOOPLINE_TEST_POSTGRES_URL is set)
test: $(STAMP) peers
	$(BIN)/ruff check bot tests migrations
	$(BIN)/mypy
	$(PYTEST)

## test-fast: the inner loop (~30 s): lint, types and every test but the end-to-end ones (real servers, peers, browser), on SQLite, property tests at a tenth of their examples; `make test` runs it all
test-fast: $(STAMP)
	$(BIN)/ruff check bot tests migrations
	$(BIN)/mypy
	LOOPLINE_TEST_POSTGRES_URL= $(PYTEST) -m "not e2e" --hypothesis-profile=fast

## lock: refresh requirements.lock from pyproject.toml (keeps every pin that still fits; UPGRADE=name moves one package to its newest allowed version)
lock: $(STAMP)
	$(LOCK_COMMAND) $(if $(UPGRADE),--upgrade-package $(UPGRADE))

lint: $(STAMP)
	$(BIN)/ruff check bot tests migrations
	$(BIN)/ruff format --check bot tests migrations
	$(BIN)/mypy

## bench: webhook throughput/latency against a bare ASGI app, broadcast enqueue and drain pace, staff pages at city scale (see tests/perf/README.md)
bench: $(STAMP)
	$(BIN)/python -m tests.perf.bench_webhook && $(BIN)/python -m tests.perf.bench_broadcast && $(BIN)/python -m tests.perf.bench_dashboard && $(BIN)/python -m tests.perf.bench_themes

## i18n: extract the bot's messages (code, flow files, public templates) and update every catalog; writes only what changed
i18n: $(STAMP)
	$(BIN)/python -m bot.i18n.refresh

clean:
	rm -rf $(VENV) .peers .pytest_cache .mypy_cache .ruff_cache
