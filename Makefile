# Chirp: `make up` runs the whole system with a demo network; `make test` runs the whole suite; `make lint` checks
# the code.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
GEN := gen/python
PROTOS := $(shell find protos -name '*.proto')
INFRA := infra/infra.sh
RUN := services/run.sh
LINTED := services tests bench tools
# The search backend of `make up` (and `make bench`): tantivy, an index on this machine's disk, or opensearch, a
# local OpenSearch node that `make up SEARCH=opensearch` starts beside Kafka and Cassandra (infra/README.md).
SEARCH ?= $(or $(CHIRP_SEARCH_BACKEND),tantivy)
ifeq ($(SEARCH),opensearch)
SEARCH_INFRA := kafka cassandra opensearch
else ifeq ($(SEARCH),tantivy)
SEARCH_INFRA := kafka cassandra
else
$(error SEARCH must be tantivy or opensearch, not '$(SEARCH)')
endif
# Where the services and the bench reach OpenSearch: the local node unless the environment names another.
CHIRP_OPENSEARCH_URL ?= http://127.0.0.1:$(or $(CHIRP_OPENSEARCH_PORT),9200)
SEARCH_ENV := CHIRP_SEARCH_BACKEND=$(SEARCH) CHIRP_OPENSEARCH_URL=$(CHIRP_OPENSEARCH_URL)
# Every lock is resolved for Python 3.11 with hashes; `make lock LOCK_FLAGS=--upgrade` moves the pins that
# pyproject.toml leaves free (uv otherwise keeps the ones already in the lock).
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 --custom-compile-command 'make lock' $(LOCK_FLAGS)

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The dev lock: runtime, dev and bench dependencies and the build tools (pip, setuptools), every one with its hashes.
$(VENV)/.deps: requirements-dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

$(GEN)/.stamp: $(PROTOS) $(VENV)/.deps
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=$(GEN) --pyi_out=$(GEN) --grpc_python_out=$(GEN) $(PROTOS)
	touch $@

protos: $(GEN)/.stamp ## generate the Python code of protos/ into gen/python

# pip check fails when pyproject.toml declares a dependency that the lock lacks.
$(VENV)/.installed: pyproject.toml $(GEN)/.stamp
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check || { echo "requirements-dev.lock does not match pyproject.toml: run 'make lock'"; exit 1; }
	touch $@

install: $(VENV)/.installed ## Python environment with Chirp and its pinned dependencies in .venv

# Resolved with the uv of the dev lock. The dev lock first; the other two take its versions, so the image runs
# what the tests ran.
lock: $(VENV)/.deps ## regenerate requirements.lock (image), requirements-dev.lock, requirements-build.lock
	$(UV_COMPILE) pyproject.toml --extra dev --extra bench --group build -o requirements-dev.lock
	$(UV_COMPILE) pyproject.toml -c requirements-dev.lock -o requirements.lock
	$(UV_COMPILE) --group build -c requirements-dev.lock -o requirements-build.lock

# All three run, so one pass shows every finding.
# buf, pinned with its lock (npm): the contracts' lint (STANDARD) and the breaking-change gate against main.
BUF := tools/buf/node_modules/.bin/buf
tools/buf/node_modules/.stamp: tools/buf/package.json tools/buf/package-lock.json
	npm ci --prefix tools/buf --no-audit --no-fund --loglevel=error
	touch $@

lint: install tools/buf/node_modules/.stamp ## ruff format --check and ruff check; mypy on services/runtime; the import rules (lint-imports); buf lint and buf breaking against main (protos/); the Kubernetes manifests (k8s/validate.sh)
	@status=0; \
	$(BIN)/ruff format --check $(LINTED) || status=1; \
	$(BIN)/ruff check $(LINTED) || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/lint-imports || status=1; \
	$(BUF) lint protos || status=1; \
	$(BUF) breaking protos --against "$$(git rev-parse --path-format=absolute --git-common-dir)#branch=main,subdir=protos" \
		|| { echo "buf breaking: protos/ break the contract on main (see above)"; status=1; }; \
	bash k8s/validate.sh || status=1; \
	exit $$status

require: ## Java 17 and Maven, installed with apt-get when missing
	bash infra/require.sh

docs: install ## regenerate docs/events.md from protos/ and the topic declarations
	$(BIN)/python -m tools.event_catalogue

infra: require ## fetch (once) and start Kafka and Cassandra (and OpenSearch with SEARCH=opensearch), wait for them
	$(INFRA) fetch $(SEARCH_INFRA)
	$(INFRA) start $(SEARCH_INFRA)
	$(INFRA) wait $(SEARCH_INFRA)

setup: install infra ## everything `up` needs before services start: topics and schemas too
	$(BIN)/chirp admin setup

up: setup ## set up everything, start all services, load the demo network, show a home timeline (SEARCH=opensearch)
	$(SEARCH_ENV) $(RUN) start
	$(BIN)/chirp status --wait 60
	$(BIN)/chirp demo load
	$(BIN)/chirp demo show

prometheus: install ## a local Prometheus (Debian's package) scraping every process, with the production alerts, on 127.0.0.1:9090
	bash infra/prometheus.sh start

prometheus-stop: ## stop the local Prometheus (its data is kept in .data/prometheus)
	bash infra/prometheus.sh stop

down: ## stop the services, Kafka, Cassandra and OpenSearch if it runs (data is kept)
	-$(RUN) stop
	$(INFRA) stop

clean: down ## stop everything and delete all data (jars are kept)
	$(INFRA) clean
	rm -rf $(GEN)

# The search backend tests start an OpenSearch node of their own (tests/search/opensearch.py): its jars are fetched
# here too. The 25 slowest tests are listed at the end, to keep the whole run short.
test: install require ## the whole suite: unit, integration and end to end on real Kafka and Cassandra (and OpenSearch)
	$(INFRA) fetch kafka cassandra opensearch
	$(BIN)/python -m pytest -q --durations=25

test-unit: install ## unit tests only (no servers)
	$(BIN)/python -m pytest -q tests/unit

test-integration: install require ## integration tests only, on the real Kafka and Cassandra
	$(INFRA) fetch
	$(BIN)/python -m pytest -q tests/integration

test-e2e: install require ## end-to-end tests only, on the real Kafka and Cassandra (and OpenSearch)
	$(INFRA) fetch kafka cassandra opensearch
	$(BIN)/python -m pytest -q tests/e2e

.PHONY: help protos install lock lint docs require infra setup up down clean test test-unit test-integration test-e2e

# SEARCH=opensearch runs the search phase on OpenSearch (after `make up SEARCH=opensearch`), to compare the backends.
bench: install ## benchmark with same-run baselines, < 15 min, after `make up`: bench/results/latest.{md,json,png}
	@$(INFRA) status $(SEARCH_INFRA) >/dev/null || { echo "$(SEARCH_INFRA) not all running: run 'make up SEARCH=$(SEARCH)' first"; exit 1; }
	$(SEARCH_ENV) $(BIN)/python -m bench run --mode full

bench-quick: install ## the same benchmark, small and short (< 3 min): bench/results/quick.{md,json,png}
	@$(INFRA) status $(SEARCH_INFRA) >/dev/null || { echo "$(SEARCH_INFRA) not all running: run 'make up SEARCH=$(SEARCH)' first"; exit 1; }
	$(SEARCH_ENV) $(BIN)/python -m bench run --mode quick

.PHONY: bench bench-quick
