# The README's commands. `make run` then `make test` is the whole quick start.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
RASA        := $(VENV)/bin/rasa
PYTHON310   ?= $(shell scripts/find-python310.sh)
SPACY_MODEL := models/spacy/en_b12
MODEL       := models/current.tar.gz
RASA_PORT   ?= 5005
ACTIONS_PORT ?= 5055
SHELL_PORT  ?= 5006

export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONWARNINGS := ignore
export RASA_PORT ACTIONS_PORT

TRAIN_INPUTS := config.yml domain.yml $(wildcard data/*.yml) $(wildcard components/*.py) $(SPACY_MODEL)/meta.json

.PHONY: system-deps help install run stop shell train spacy test lint format validate unit e2e integration eval bench eval-quick bench-quick resilience cluster run-cluster stop-cluster soak retention forget clean

help:
	@echo "make run    install, train if stale, start the assistant on http://localhost:$(RASA_PORT)"
	@echo "make test   lint, unit tests, Rasa checks, then the booted assistant end to end"
	@echo "make shell  chat in the terminal (rasa shell)"
	@echo "make train  build the spaCy pipeline and train the Rasa model if inputs changed"
	@echo "make stop   stop the servers that make run started"
	@echo "make eval   evaluation report: NLU cross-validation, held-out answers vs a BM25 baseline"
	@echo "make bench  load benchmark: latency, throughput, memory, cold start"

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (see scripts/find-python310.sh)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON310)"
	$(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

install: $(VENV)/.installed

# Order-only on the venv: a new dev tool does not rebuild the pipeline or retrain.
$(SPACY_MODEL)/meta.json: knowledge/entity_patterns.yml scripts/build_spacy.py b12/entities.py | $(VENV)/.installed
	$(PY) scripts/build_spacy.py $(SPACY_MODEL)

spacy: $(SPACY_MODEL)/meta.json

$(MODEL): $(TRAIN_INPUTS)
	@echo "Training the Rasa model (inputs changed)"
	@start=$$(date +%s); \
	$(RASA) train --fixed-model-name current --out models --quiet >/dev/null 2>.train.log || { cat .train.log; exit 1; }; \
	echo "$$(( $$(date +%s) - start ))" > models/train-seconds.txt; \
	echo "Trained in $$(cat models/train-seconds.txt)s"; rm -f .train.log

train: $(MODEL)

run: train
	@SERVE_WEB=1 scripts/serve.sh start
	@echo
	@echo "Chat over REST:   curl -s localhost:$(RASA_PORT)/webhooks/rest/webhook -d '{\"sender\":\"me\",\"message\":\"what is pernicious anemia?\"}'"
	@echo "Chat in terminal: make shell      Stop: make stop"

stop:
	@scripts/serve.sh stop

shell: train
	@scripts/serve.sh start >/dev/null
	$(RASA) shell --model $(MODEL) --endpoints .run/endpoints.yml --port $(SHELL_PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

validate: train
	$(RASA) data validate --fail-on-warnings --max-history 5 >/dev/null 2>.validate.log || { cat .validate.log; exit 1; }
	@rm -f .validate.log; echo "rasa data validate: clean"

unit: install spacy
	$(PY) -m pytest -m "not integration and not resilience and not cluster"

e2e: train
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/e2e >/dev/null 2>results-e2e.log || { tail -40 results-e2e.log; exit 1; }
	@rm -f results-e2e.log; echo "rasa test (end-to-end stories): no prediction errors"

system-deps:
	@scripts/install-system-deps.sh

integration: train system-deps
	$(PY) -m pytest -m integration

# Persistence, security and faults (tests/test_resilience.py) and the PostgreSQL + Redis +
# nginx cluster (tests/test_cluster.py): they boot their own servers and services.
resilience: train
	$(PY) -m pytest -m resilience

cluster: train
	$(PY) -m pytest -m cluster

run-cluster: train
	@scripts/cluster.sh start

soak: run
	$(PY) evaluation/soak.py

retention:
	$(PY) scripts/retention.py

stop-cluster:
	@scripts/cluster.sh stop

forget:
	@test -n "$(SENDER)" || { echo "usage: make forget SENDER=<sender id>"; exit 2; }
	$(PY) scripts/forget.py "$(SENDER)"

eval: train
	$(PY) evaluation/evaluate.py

bench: train
	$(PY) evaluation/bench.py

# Benchmarks are not timed tests: make test only checks that quick runs work end to end.
eval-quick: train
	$(PY) evaluation/evaluate.py --quick
	@test -s reports/eval.md && test -s reports/eval.json

bench-quick: train
	$(PY) evaluation/bench.py --quick
	@test -s reports/bench.md && test -s reports/bench.json && test -s reports/bench.png

test: lint unit validate e2e integration resilience cluster eval-quick bench-quick

clean:
	rm -rf models results .run .pytest_cache .ruff_cache
