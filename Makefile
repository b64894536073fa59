# The two commands of the README:
#   make figures   set up .venv, then regenerate every figure (figures/) and table (data/)
#   make test      set up .venv, then run the test suite
# Both only need Python >= 3.11 (and make); both are safe to run again.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := aimclib
# Notebooks run by `make figures`: every numbered study notebook but the interactive explorer.
NOTEBOOKS := $(filter-out notebooks/05_explorer.ipynb,$(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)))
# QUICK=1 runs the notebooks with the small grids of notebooks/params/quick/ (CI, smoke tests)
# and writes under the git-ignored build/quick/, never over the committed figures/ and data/.
PARAMS := $(if $(QUICK),quick,full)
QUICK_DIRS := --figures-dir build/quick/figures --data-dir build/quick/data \
              --output-dir build/quick/notebooks

.PHONY: help setup figures test test-fast train explore explorer-screenshot clean-output

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (aimclib)" > /dev/null
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with aimclib and its dependencies, register the notebook kernel

figures: $(STAMP)  ## regenerate every figure and data table, update README numbers (QUICK=1: small grids into build/quick/)
	$(BIN)/python -m aimclib.pipeline --params $(PARAMS) $(if $(QUICK),$(QUICK_DIRS)) $(NOTEBOOKS)
	$(if $(QUICK),,$(BIN)/python -m aimclib.claims README.md docs/model.md)

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## run the test suite without the tests marked slow (notebooks, processes)
	$(BIN)/python -m pytest -m "not slow"

train: $(STAMP)  ## retrain the digits CNN of notebook 07 (data/digits_cnn.npz and .log; bit-identical)
	$(BIN)/python -m aimclib.trained --out data/digits_cnn.npz

PORT ?= 8866
explore: $(STAMP)  ## serve the explorer (notebooks/05_explorer.ipynb) as a web app on 127.0.0.1:$(PORT), offline
	$(BIN)/python -m aimclib.webapp --port $(PORT) notebooks/05_explorer.ipynb

explorer-screenshot: $(STAMP)  ## run the browser test and save figures/explorer.png (needs tools/install_browser.sh)
	AIMCLIB_EXPLORER_SCREENSHOT=figures/explorer.png $(BIN)/python -m pytest -q -m browser tests/test_explorer_browser.py

clean-output:  ## remove executed notebook copies
	rm -rf notebooks/output
