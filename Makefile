# Entry points for a fresh machine with only python3 and make:
#   make demo            the logging-stack scenario on an embedded etcd
#   make test            lint, format and type checks, then the whole suite against a real etcd
#   make test-fast       lint and the tests that need no etcd: the edit-run loop
#   make test-container  build the Dockerfile's image and run `confpy exec` in it (podman/docker)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Installation prints one line per step; what the tools say goes here.
LOG    := $(VENV).log

.PHONY: demo test test-fast lint typecheck format-check pytest test-container bench clean

# $(call step,WHAT,COMMAND): say WHAT, run COMMAND with its output appended to $(LOG);
# on failure, point at the log and show its end.
step = @echo "$(1)"; $(2) >>$(LOG) 2>&1 || { \
	echo "make: step failed: $(1); the full output is in $(LOG), which ends:" >&2; \
	tail -n 15 $(LOG) >&2; exit 1; }

$(BIN)/confpy-installed: pyproject.toml
	@: >$(LOG)
	$(call step,creating $(VENV) (the tools' output goes to $(LOG)),$(PYTHON) -m venv $(VENV))
	$(call step,installing confpy and its test tools into $(VENV),\
		$(BIN)/python -m pip install --disable-pip-version-check -e '.[test]')
	@touch $@

demo: $(BIN)/confpy-installed
	@$(BIN)/confpy demo

# `make test` runs every gate in TEST_GATES, in order; add a gate as a target and list it here.
TEST_GATES := lint format-check typecheck pytest

test: $(TEST_GATES)

lint: $(BIN)/confpy-installed
	$(BIN)/ruff check confpy tests bench

typecheck: $(BIN)/confpy-installed
	$(BIN)/mypy --strict confpy

format-check: $(BIN)/confpy-installed
	$(BIN)/ruff format --check -q confpy tests bench

pytest: $(BIN)/confpy-installed
	$(BIN)/python -m pytest

# Tests marked etcd (every user of the session etcd is, see tests/conftest.py) or slow are left out.
test-fast: lint
	$(BIN)/python -m pytest -m "not etcd and not slow"

# Opt-in: needs podman (or docker); skipped with a message where there is none.
test-container: $(BIN)/confpy-installed
	CONFPY_TEST_CONTAINER=1 $(BIN)/python -m pytest -m container tests/test_container.py

bench: $(BIN)/confpy-installed
	$(BIN)/python bench/onetime.py

clean:
	rm -rf $(VENV) $(LOG) .pytest_cache build *.egg-info
