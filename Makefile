# lake-ingest: the two commands are `make demo` and `make test`; everything else is a building block.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Offline provider installs: point this at a filesystem mirror (the folder holding
# registry.terraform.io/...); empty means "download from the registry as usual".
TF_PLUGIN_DIR ?=

.PHONY: help venv test py-test lint

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt lambda_src/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create .venv with the handler's and the tests' dependencies

lint: venv ## ruff on the Python sources
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

py-test: venv ## pytest: handler against a real loopback API and moto
	$(PY) -m pytest

test: lint py-test ## everything CI runs
