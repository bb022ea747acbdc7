# zhengyun — everything a fresh machine with Python 3.11+, make and the network needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test faults install lint lock clean focus-validator migration

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

## The FinOps Foundation's FOCUS validator, in its own environment (it needs Python >= 3.12 and pins its
## own libraries); tests/billing/test_focus_validator.py runs it on a FOCUS export.
FOCUS_VENV  := .venv-focus
FOCUS_STAMP := $(FOCUS_VENV)/.installed
FOCUS_PYTHON ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python /root/.pyenv/versions/3.1[2-9]*/bin/python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; break; }; done)

$(FOCUS_STAMP):
	@test -n "$(FOCUS_PYTHON)" || { echo "focus-validator needs Python >= 3.12: install one (e.g. with pyenv) or set FOCUS_PYTHON" >&2; exit 1; }
	$(FOCUS_PYTHON) -m venv $(FOCUS_VENV)
	$(FOCUS_VENV)/bin/python -m pip install --quiet focus-validator==2.2.1
	$(FOCUS_VENV)/bin/python -m pip install --quiet 'numpy>=2'
	touch $(FOCUS_STAMP)

focus-validator: $(FOCUS_STAMP)

## The fault-injection suite alone (tests/faults, marker `faults`): SIGKILL, concurrency, hostile files.
faults: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m faults $(PYTEST_ARGS)

## Lint, format check and types (mypy reads its targets from pyproject.toml); CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

## Draft the next migration from the models' difference with the newest schema: make migration MESSAGE="what changed"
migration: $(STAMP)
	@test -n "$(MESSAGE)" || { echo 'say what changed: make migration MESSAGE="add x to y"' >&2; exit 2; }
	$(BIN)/python -c 'import sys; from zhengyun.database import draft_migration; print(*draft_migration(sys.argv[1]), sep="\n")' "$(MESSAGE)"
	$(BIN)/python -m ruff format --quiet zhengyun/migrations/versions/

## Re-pin dependencies after editing requirements.in.
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) $(FOCUS_VENV) var
