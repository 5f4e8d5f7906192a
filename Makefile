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

export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONWARNINGS := ignore
export RASA_PORT ACTIONS_PORT VENV

# The custom components' training output depends on their code and on what they call
# (b12/focus.py: the text the classifier reads; b12/kinds.py: button payloads and button-only intents).
# b12/spelling.py is not one: it corrects the text only at run time.
TRAIN_INPUTS := config.yml domain.yml $(wildcard data/*.yml) extensions/components.py b12/focus.py b12/kinds.py \
                $(SPACY_MODEL)/meta.json

.PHONY: system-deps help install run stop shell train spacy check screenshots test lint format validate unit e2e integration eval bench eval-quick bench-quick resilience cluster run-cluster stop-cluster soak retention forget report clean

help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (see scripts/find-python310.sh)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON310)"
	$(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

install: $(VENV)/.installed ## create the venv and install the pinned packages

# Order-only on the venv: a new dev tool does not rebuild the pipeline or retrain.
$(SPACY_MODEL)/meta.json: knowledge/entity_patterns.yml scripts/build_spacy.py b12/entities.py | $(VENV)/.installed
	$(PY) scripts/build_spacy.py $(SPACY_MODEL)

spacy: $(SPACY_MODEL)/meta.json ## build the project's own spaCy pipeline (blank en, lemmas, entity ruler)

# No training cache (RASA_MAX_CACHE_SIZE=0): Rasa keys a component's cached output on its config,
# not its code, so a changed custom component would train on its old output.
$(MODEL): $(TRAIN_INPUTS)
	@$(PY) -m b12.knowledge check
	@echo "Training the Rasa model (inputs changed)"
	@start=$$(date +%s); \
	RASA_MAX_CACHE_SIZE=0 $(RASA) train --fixed-model-name current --out models --quiet >/dev/null 2>.train.log || { cat .train.log; exit 1; }; \
	echo "$$(( $$(date +%s) - start ))" > models/train-seconds.txt; \
	echo "Trained in $$(cat models/train-seconds.txt)s"; rm -f .train.log

train: $(MODEL) ## build the spaCy pipeline and train the Rasa model if inputs changed

run: train ## install, train if stale, start the assistant and the demo page
	@SERVE_WEB=1 scripts/serve.sh start
	@echo
	@echo "Chat over REST:   curl -s localhost:$(RASA_PORT)/webhooks/rest/webhook -H 'Content-Type: application/json' -d '{\"sender\":\"me\",\"message\":\"what is pernicious anemia?\"}'"
	@echo "Chat in terminal: make shell      Stop: make stop"

stop: ## stop the servers that make run started
	@scripts/serve.sh stop

shell: train ## chat in the terminal (rasa shell on 127.0.0.1:5006; what it starts stops with it)
	@scripts/serve.sh shell

lint: install ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

validate: train ## rasa data validate, warnings are errors
	$(RASA) data validate --fail-on-warnings --max-history 5 >/dev/null 2>.validate.log || { cat .validate.log; exit 1; }
	@rm -f .validate.log; echo "rasa data validate: clean"

unit: install spacy ## unit tests (tests/unit): no servers, no network
	$(PY) -m pytest tests/unit

e2e: train ## rasa test with the end-to-end stories (tests/test_stories.yml)
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/e2e >/dev/null 2>results-e2e.log || { tail -40 results-e2e.log; exit 1; }
	@rm -f results-e2e.log; echo "rasa test (end-to-end stories): no prediction errors"

system-deps: ## Debian packages the system tests need (chromium, chromium-driver, redis-server, postgresql, nginx)
	@scripts/install-system-deps.sh

integration: train system-deps ## system tests: the booted assistant over REST, Slack and in Chromium
	$(PY) -m pytest tests/system -m integration

# Persistence, security and faults (tests/system/test_resilience.py) and the PostgreSQL + Redis +
# nginx cluster (tests/system/test_cluster.py): they boot their own servers and services.
resilience: train system-deps ## system tests: persistence, security and faults
	$(PY) -m pytest tests/system -m resilience

cluster: train system-deps ## system tests: two Rasa processes, nginx, PostgreSQL, Redis
	$(PY) -m pytest tests/system -m cluster

run-cluster: train ## start the local cluster (scripts/cluster.sh)
	@scripts/cluster.sh start

soak: run ## steady load on make run: memory, latency drift, errors
	$(PY) -m evaluation.soak

retention: ## delete conversations idle longer than RETENTION_DAYS
	$(PY) scripts/retention.py

# SINCE and UNTIL reach the CLI through the environment, like SENDER for make forget.
unexport SINCE UNTIL
report: export B12_REPORT_SINCE := $(value SINCE)
report: export B12_REPORT_UNTIL := $(value UNTIL)
report: ## the content report, reports/content.html and .json: make report [SINCE=YYYY-MM-DD] [UNTIL=YYYY-MM-DD]
	$(PY) -m reporting --since="$$B12_REPORT_SINCE" --until="$$B12_REPORT_UNTIL"

stop-cluster: ## stop the local cluster
	@scripts/cluster.sh stop

# The sender id reaches the shell only through the environment, never in the recipe's text:
# $(value ...) stops make expanding it (a `$(shell ...)` in it would run), a simple (:=)
# variable is exported as is, SENDER itself is not exported (make would expand it to do so),
# and the shell reads "$$B12_FORGET_SENDER" without running anything in it. `--` lets an id
# start with a dash. tests/unit/test_forget.py tries hostile ids.
unexport SENDER
forget: export B12_FORGET_SENDER := $(value SENDER)
forget: ## delete one conversation: make forget SENDER=<stored id, e.g. rest:3f2a...>
	@test -n "$$B12_FORGET_SENDER" || { echo "usage: make forget SENDER=<sender id>"; exit 2; }
	$(PY) scripts/forget.py -- "$$B12_FORGET_SENDER"

eval: train ## evaluation report: NLU cross-validation, held-out and own-words sets, BM25 baseline
	$(PY) -m evaluation.evaluate

bench: train ## benchmark: latency, throughput, memory, cold start, worst case; make report over 10,000 conversations
	$(PY) -m evaluation.bench
	$(PY) -m reporting.bench

# Benchmarks are not timed tests: make test only checks that quick runs work end to end.
eval-quick: train ## a quick make eval (make test runs it)
	$(PY) -m evaluation.evaluate --quick
	@test -s reports/eval.md && test -s reports/eval.json

bench-quick: train ## a quick make bench (make test runs it)
	$(PY) -m evaluation.bench --quick
	@test -s reports/bench.md && test -s reports/bench.json && test -s reports/bench.png
	$(PY) -m reporting.bench --quick
	@test -s reports/report-bench.json

# The reviewer's view of the knowledge file, and how a review is recorded (docs/content.md).
# SIGN and OUT reach the shell only through the environment, as SENDER does for forget.
.PHONY: review
unexport SIGN OUT
review: export B12_REVIEW_SIGN := $(value SIGN)
review: export B12_REVIEW_OUT := $(value OUT)
review: ## passages beside the source, for a reviewer (OUT=file); sign: make review SIGN="clinical content lead"
	@if [ -n "$$B12_REVIEW_SIGN" ]; then $(PY) -m b12.review --sign "$$B12_REVIEW_SIGN"; \
	elif [ -n "$$B12_REVIEW_OUT" ]; then $(PY) -m b12.review --out "$$B12_REVIEW_OUT"; \
	else $(PY) -m b12.review; fi

check: lint unit validate e2e ## lint, unit tests, rasa data validate, end-to-end stories: no daemons, no system installs

screenshots: train system-deps ## refresh the widget screenshots in docs/images/ (made by the browser tests)
	$(PY) -m pytest tests/system/test_browser.py -m browser -k screenshot
	cp artifacts/screenshots/widget-desktop.png artifacts/screenshots/widget-375px.png docs/images/

test: lint unit validate e2e integration resilience cluster eval-quick bench-quick ## everything CI runs

clean: ## remove models, results and run folders
	rm -rf models results .run .pytest_cache .ruff_cache
