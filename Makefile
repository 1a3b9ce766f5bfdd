# hitlab: everyday commands. `make` (or `make help`) lists them.
# Needs only Python 3.11+ and make: the first target that needs it creates .venv and installs hitlab there.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; reinstalls when pyproject.toml is newer. LAB_STAMP: the learner's install
# (hitlab and what the labs need), STAMP: that and the developers' tools (pytest, ruff, pre-commit...).
LAB_STAMP := $(VENV)/.hitlab-lab
STAMP := $(VENV)/.hitlab-installed
# Installs with uv when it can be had (much faster), else pip; HITLAB_INSTALLER=pip chooses pip.
INSTALL := $(BIN)/python tools/install.py
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-m "not slow"'
PYTEST_ARGS ?=
# Worker processes for pytest-xdist (0 runs the suite in one process).
PYTEST_WORKERS ?= 2
LINT_PATHS := $(wildcard src tests benchmarks)

.DEFAULT_GOAL := help
.PHONY: help venv data lab test bench docs lint format labs cohort clean

help: ## List the targets with what they do
	@echo "usage: make TARGET   (PYTHON=$(PYTHON) makes the venv)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The interpreter that makes .venv: if it is missing, too old or cannot make a venv, say so, and how to choose
# another.
CHOOSE_PYTHON = echo "       Choose another with PYTHON, e.g. make PYTHON=python3.12 $(or $(MAKECMDGOALS),venv)" >&2
$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: Python interpreter '$(PYTHON)' not found (hitlab needs Python 3.11 or newer)." >&2; \
	  $(CHOOSE_PYTHON); exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  if version=$$($(PYTHON) --version 2>&1); then \
	    echo "error: hitlab needs Python 3.11 or newer; '$(PYTHON)' is $$(echo "$$version" | head -n 1)." >&2; \
	  else echo "error: '$(PYTHON)' does not run: $$(echo "$$version" | head -n 1)" >&2; fi; \
	  $(CHOOSE_PYTHON); exit 1; }
	@echo "$(PYTHON) -m venv $(VENV)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "error: '$(PYTHON)' could not create $(VENV) (on Debian and Ubuntu: apt install python3-venv)." >&2; \
	  $(CHOOSE_PYTHON); exit 1; }

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(INSTALL) -e .
	@touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(INSTALL) -e '.[dev]'
	@touch $@ $(LAB_STAMP)

venv: $(STAMP) ## Create .venv and install hitlab with its dev tools (again when pyproject.toml changes)

data: $(LAB_STAMP) ## Build the default synthetic dataset into data/generated/ (if missing)
	$(BIN)/hitlab data build

lab: data ## Set up everything, then open JupyterLab on work/, your copy of the labs (Ctrl-C stops it)
	$(BIN)/hitlab lab

test: venv ## Run the whole test suite (PYTEST_ARGS=... to select, PYTEST_WORKERS=0 for one process)
	@status=0; $(BIN)/pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS)) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest ran no tests (exit status 5): nothing was collected or everything was deselected" >&2; fi; \
	exit $$status

bench: venv ## Run the benchmarks (benchmarks/run.py)
	$(BIN)/python benchmarks/run.py

docs: venv ## Build the website (README, guides, every released lab) into docs/_build/html (tools/docs.py)
	$(BIN)/python tools/docs.py

lint: venv ## Check style and formatting with ruff (changes nothing)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: venv ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

labs: venv ## Regenerate the released labs/ from solutions/
	$(BIN)/hitlab course build

cohort: venv ## Write a synthetic cohort (3 learners per lab) into graders/work/sample/ to try hitlab grade on
	rm -rf graders/work/sample
	$(BIN)/python -c 'from hitlab.grading.cohort import make_cohort; make_cohort("graders/work/sample", per_lab=3)'
	@echo "graders/work/sample/: in each lab s001 is correct, s002 blank (as released), s003 partly wrong"

clean: ## Remove generated data and caches (keeps .venv)
	rm -rf data/generated docs/_build .pytest_cache .ruff_cache build dist benchmarks/.work
	find . \( -path './.venv*' -o -path ./.git \) -prune -o \( -name __pycache__ -o -name '*.egg-info' -o -name .ipynb_checkpoints \) \
	  -type d -prune -exec rm -rf {} +
