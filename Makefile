# zhengyun — everything a fresh machine with Python 3.11+, make and the network needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test faults install lint lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default: SQLite in ./var, the demo province.
demo: $(STAMP)
	ZHENGYUN_DATA_DIR=$(CURDIR)/var $(BIN)/zhengyun demo

## The test suite (SQLite; PostgreSQL too when ZHENGYUN_TEST_POSTGRES is set).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

## The fault-injection suite alone (tests/faults, marker `faults`): SIGKILL, concurrency, hostile files.
faults: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m faults $(PYTEST_ARGS)

## Lint, format check and types (mypy reads its targets from pyproject.toml); CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

## Re-pin dependencies after editing requirements.in.
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) var
