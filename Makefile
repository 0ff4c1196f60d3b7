# Chirp: `make up` runs the whole system with a demo network; `make test` runs the whole suite.
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

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip==24.3.1
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

$(GEN)/.stamp: $(PROTOS) $(VENV)/.deps
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=$(GEN) --pyi_out=$(GEN) --grpc_python_out=$(GEN) $(PROTOS)
	touch $@

protos: $(GEN)/.stamp ## generate the Python code of protos/ into gen/python

$(VENV)/.installed: pyproject.toml $(GEN)/.stamp
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed ## Python environment with Chirp and its pinned dependencies in .venv

require: ## Java 17 and Maven, installed with apt-get when missing
	bash infra/require.sh

docs: install ## regenerate docs/events.md from protos/ and the topic declarations
	$(BIN)/python -m services.runtime.event_catalogue

infra: require ## fetch (once) and start Kafka and Cassandra, wait until both answer
	$(INFRA) fetch
	$(INFRA) start
	$(INFRA) wait

setup: install infra ## everything `up` needs before services start: topics and schemas too
	$(BIN)/chirp admin setup

up: setup ## set up everything, start all services, load the demo network, show a home timeline
	$(RUN) start
	$(BIN)/chirp status --wait 60
	$(BIN)/chirp demo load
	$(BIN)/chirp demo show

down: ## stop the services, Kafka and Cassandra (data is kept)
	-$(RUN) stop
	$(INFRA) stop

clean: down ## stop everything and delete all data (jars are kept)
	$(INFRA) clean
	rm -rf $(GEN)

test: install require ## the whole suite: unit, integration and end to end on real Kafka and Cassandra
	$(INFRA) fetch
	$(BIN)/python -m pytest -q

test-unit: install ## unit tests only (no servers)
	$(BIN)/python -m pytest -q tests/unit

.PHONY: help protos install docs require infra setup up down clean test test-unit

bench: install ## benchmark with same-run baselines, < 15 min, after `make up`: bench/results/latest.{md,json,png}
	@$(INFRA) status >/dev/null || { echo "Kafka and Cassandra are not running: run 'make up' first"; exit 1; }
	$(BIN)/python -m bench run --mode full

bench-quick: install ## the same benchmark, small and short (< 3 min): bench/results/quick.{md,json,png}
	@$(INFRA) status >/dev/null || { echo "Kafka and Cassandra are not running: run 'make up' first"; exit 1; }
	$(BIN)/python -m bench run --mode quick

.PHONY: bench bench-quick
