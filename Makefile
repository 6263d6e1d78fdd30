# The two commands a fresh machine needs: `make run` and `make test` (set-up included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install install-browser bytecode lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "roomkey needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The dashboard's browser tests drive Debian's chromium package, never a downloaded browser
# build: installed here when missing and apt-get can (as root); otherwise those tests skip with
# a message (and fail under CI=true).
CHROMIUM ?= /usr/bin/chromium
install-browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: $(CHROMIUM) is missing and cannot be installed here: the browser tests will skip"; \
	  fi; \
	fi

# Where PYTHONDONTWRITEBYTECODE is set (as on CI machines) Python compiles roomkey's sources at
# every start of every process: compiled here once (compileall redoes only what changed), each
# `roomkey serve` starts about 0.5 s sooner, and so does every server process the tests start.
bytecode: install
	@$(PY) -m compileall -q src

run: install bytecode
	$(VENV)/bin/roomkey serve

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy

# The suite in PYTEST_WORKERS processes, a test file to each at a time (its fixtures and order
# stay as in one process); most tests wait on servers and browsers more than they compute.
# schemathesis's generated tests (one per operation) share one node id, which pytest-xdist
# would run once: that file runs after the others, in one process.
PYTEST_WORKERS ?= 2
ONE_PROCESS_TESTS := tests/api/test_api_schemathesis.py
pytest: install install-browser bytecode
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15 --ignore=$(ONE_PROCESS_TESTS)
	$(PY) -m pytest $(ONE_PROCESS_TESTS)

test: lint typecheck pytest

bench: install
	$(PY) bench/tokens.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
