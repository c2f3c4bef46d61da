# Stopgate developer entry points. `make run` and `make test` are the README's two commands.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/example.toml

.PHONY: install prereqs run test lint bench clean

$(BIN)/stopgate: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,fast]'
	touch $@

install: $(BIN)/stopgate

prereqs:
	bash .ci/prereqs

run: install
	$(BIN)/python -m tools.demo --config $(CONFIG)

test: install prereqs
	$(BIN)/ruff check gateway tools tests
	$(BIN)/mypy gateway tools
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check gateway tools tests
	$(BIN)/mypy gateway tools
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m tools.bench

clean:
	rm -rf $(VENV) build *.egg-info
