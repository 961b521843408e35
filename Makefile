# The README's two commands, `make demo` and `make test`, start here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: install demo test lint typecheck unit synth bench clean

install: $(STAMP)

# Reinstall only when the project's declared dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/infercost demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit -q

test: lint typecheck
	$(BIN)/pytest -q --cov --cov-report=term --cov-report=xml:coverage.xml

# Offline and quick: the template, cdk-nag report and assets in cdk.out, without building the
# dependency layers (that needs pip and the network; `cdk deploy` always does it).
synth: install
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"infercost:bundle": false}' \
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=18,20,22,24 $(BIN)/python infra/app.py

bench: install
	bash benchmarks/run.sh

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis coverage.xml .coverage
