# The README's two commands, `make demo` and `make test`, start here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# The demo needs the runtime and the local stack; the checks also need the dev tools (CDK, linters).
DEMO_STAMP := $(VENV)/.installed-local
DEV_STAMP := $(VENV)/.installed-dev
# jsii names the Node.js majors it should not warn about.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20,22,24
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

# uv installs in seconds what pip takes minutes for; pip remains the fallback.
define install_extras
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) || true
	if test -x $(BIN)/uv; then \
		$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[$(1)]'; \
	else \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(1)]'; \
	fi
endef

.PHONY: install install-demo demo test lint typecheck unit synth bench clean

install: $(DEV_STAMP)

install-demo: $(DEMO_STAMP)

# Reinstall only when the project's declared dependencies change.
$(DEMO_STAMP): pyproject.toml
	$(call install_extras,local)
	touch $@

$(DEV_STAMP): pyproject.toml
	$(call install_extras,dev)
	touch $@ $(DEMO_STAMP)

demo: install-demo
	$(BIN)/infercost demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit -q

# Two workers for the Python tests (whole files per worker: module-scoped local stacks are set
# up once), then the infra tests alone: their CDK synthesis is timed (under a minute) and would
# compete with the other worker. Coverage of both runs is combined and gated at 90 %.
test: lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadfile --ignore=tests/infra --cov --cov-report=
	$(BIN)/pytest -q tests/infra --cov --cov-append --cov-report=term --cov-report=xml:coverage.xml

# Offline and quick: the template, cdk-nag report and assets in cdk.out, without building the
# dependency layers (that needs pip and the network; `cdk deploy` always does it).
synth: install
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"infercost:bundle": false}' $(BIN)/python infra/app.py

bench: install
	bash benchmarks/run.sh

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis coverage.xml .coverage
