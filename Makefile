# Set-up from nothing: a virtual environment with the CPU build of torch installed first (a bare
# `torch` requirement would pull a multi-gigabyte CUDA build), xtcocotools built from source (its
# wheel breaks on numpy 2), then posekit itself with its test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q numpy cython setuptools wheel
	$(BIN)/pip install -q --no-build-isolation --no-binary xtcocotools xtcocotools
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/posekit demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
