# credit-points: the two commands a new user runs are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: install sysdeps demo test lint audit bench clean lock

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Debian packages the tests and PDF reports need (PostgreSQL, Chromium, CJK fonts, poppler, wrk).
sysdeps:
	@bash scripts/sysdeps.sh

demo: install
	@bash scripts/sysdeps.sh --best-effort
	$(BIN)/credit-points demo

test: install sysdeps
	@source scripts/postgres.sh && start_postgres && \
	  $(BIN)/lint-imports && \
	  $(BIN)/ruff check src tests && \
	  $(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=25

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

# The container image's lock file (serving/requirements.lock), resolved from pyproject.toml with hashes.
lock: install
	$(BIN)/python -m pip install -q 'uv>=0.4'
	$(BIN)/python scripts/lock.py

# Known-vulnerability audit of the installed dependencies (needs the PyPI vulnerability service).
audit: install
	$(BIN)/pip-audit --skip-editable

bench: install sysdeps
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache mlruns data/demo
