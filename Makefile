# Order Desk — all set-up happens here; a fresh clone needs only `make run` or `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
PACKAGE_STAMP := $(VENV)/.package-$(shell cat requirements-package.lock | sha256sum | cut -c1-16)
BENCH_STAMP := $(VENV)/.bench-$(shell cat requirements-bench.lock | sha256sum | cut -c1-16)
export QT_QPA_PLATFORM ?= offscreen
PY_DIRS := $(wildcard desktop_app tests benchmarks packaging)

.PHONY: run test lint typecheck contracts pytest test-long bench demo screenshots package clean system-deps

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-bench.lock
	rm -f $(VENV)/.bench-*
	touch $@

$(PACKAGE_STAMP): $(STAMP) requirements-package.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-package.lock 2>&1 | { grep -v '^WARNING: Location' || true; }
	rm -f $(VENV)/.package-*
	touch $@

## Build the packaged program: dist/OrderDesk/ and dist/OrderDesk-<version>-<platform>.tar.gz
## (ARGS=--onefile also builds dist/OrderDesk-onefile).
package: $(PACKAGE_STAMP) system-deps
	$(BIN)/python packaging/build.py $(ARGS)

## Start the program on the default database in the user's data folder.
run: $(STAMP)
	env -u QT_QPA_PLATFORM $(BIN)/python -m desktop_app $(ARGS)

## Everything CI checks: lint, format, types, architecture walls, the test suite (headless).
test: $(STAMP) system-deps lint typecheck contracts pytest

system-deps:
	@bash .ci/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# tests/pg_cluster.py starts a throwaway PostgreSQL cluster (system-deps installs the server as
# root); without one the PostgreSQL parameter is skipped with its reason, unless
# ORDER_DESK_REQUIRE_PG=1 (set by .ci/run: CI must run them).
pytest: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider $(PYTEST_ARGS)

## Longer randomised reliability runs.
test-long: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider

## Benchmarks: project beside raw sqlite3 and eventsourcing, ratios from the same run.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(ARGS)

## Load realistic sample data into the default database.
demo: $(STAMP)
	$(BIN)/desktop-app-admin demo

## Render the main screens with sample data to PNG files under screenshots/ (git-ignored).
screenshots: $(STAMP)
	$(BIN)/python packaging/screenshots.py screenshots
	$(BIN)/python packaging/screenshots_browser.py screenshots
	$(BIN)/python packaging/screenshots_as_of.py screenshots
	$(BIN)/python packaging/screenshots_server.py screenshots

format: $(STAMP)
	$(BIN)/ruff format $(PY_DIRS)
	$(BIN)/ruff check --fix $(PY_DIRS)

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache screenshots
