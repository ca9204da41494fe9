# Two entry points for a fresh machine with only python3 and make:
#   make demo   the logging-stack scenario on an embedded etcd
#   make test   the whole suite against a real etcd it starts itself
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/confpy-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/confpy-installed
	$(BIN)/confpy demo

test: $(BIN)/confpy-installed
	$(BIN)/ruff check confpy tests bench
	$(BIN)/python -m pytest

bench: $(BIN)/confpy-installed
	$(BIN)/python bench/onetime.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
