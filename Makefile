# Entry points for a fresh machine with only python3 and make:
#   make demo            the logging-stack scenario on an embedded etcd
#   make test            lint, then the whole suite against a real etcd it starts itself
#   make test-container  build the Dockerfile's image and run `confpy exec` in it (podman/docker)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Installation prints one line per step; what the tools say goes here.
LOG    := $(VENV).log

.PHONY: demo test lint pytest test-container bench clean

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
TEST_GATES := lint pytest

test: $(TEST_GATES)

lint: $(BIN)/confpy-installed
	$(BIN)/ruff check confpy tests bench

pytest: $(BIN)/confpy-installed
	$(BIN)/python -m pytest

# Opt-in: needs podman (or docker); skipped with a message where there is none.
test-container: $(BIN)/confpy-installed
	CONFPY_TEST_CONTAINER=1 $(BIN)/python -m pytest -m container tests/test_container.py

bench: $(BIN)/confpy-installed
	$(BIN)/python bench/onetime.py

clean:
	rm -rf $(VENV) $(LOG) .pytest_cache build *.egg-info
