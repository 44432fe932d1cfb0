# The README's two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export BADGEBRIDGE_DATA_DIR ?= $(CURDIR)/var
export BADGEBRIDGE_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: install run test lint typecheck pytest bench clean browser

CHROMIUM ?= /usr/bin/chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs exactly the locked dependencies (hash-checked), then the project itself.
$(VENV)/.installed: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/badgebridge demo --if-empty
	@echo ""
	@echo "  badgebridge is starting: open http://$(HOST):$(PORT)/"
	@echo ""
	$(BIN)/badgebridge serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Browser tests drive Debian's Chromium through Playwright (no downloaded browsers).
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; }

pytest: install browser
	$(BIN)/pytest -n 2

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
