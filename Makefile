# Two commands: `make run` (demo on SQLite) and `make test` (lint, types, the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean compile uncompile

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/madoguchi serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

# Optional: the Router and the simulator compiled with mypyc (docs/acd.md, "Native build").
compile: $(STAMP)
	find src -name "*.so" -delete; rm -f src/madoguchi/native.json
	$(BIN)/python -c "import sys; from madoguchi.native import main; sys.exit(main(['build']))"

uncompile: $(STAMP)
	find src -name "*.so" -delete; rm -f src/madoguchi/native.json

bench: $(STAMP)
	$(BIN)/python bench/chat_path.py

clean:
	rm -rf $(VENV) madoguchi.db madoguchi.db-wal madoguchi.db-shm
