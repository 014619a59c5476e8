# Chuishao: the one entry point. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
RASA      := $(VENV)/bin/rasa
STAMP     := $(VENV)/.installed
KB_STAMP  := build/knowledge/.built
MODEL     := models/chuishao.tar.gz

KB_SOURCES   := $(shell find knowledge -name '*.py' -o -name '*.yml' 2>/dev/null)
RASA_SOURCES := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)

.PHONY: help setup browser-deps widget kb train run shell test lint validate pytest test-stories eval bench lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with Python 3.10 and install the pinned dependencies

$(STAMP): requirements.lock
	@test -x $(PY) || $$(scripts/find-python310.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.3.1"
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $@

browser-deps: ## Install Debian's chromium, chromium-driver and a Chinese font for the browser tests (root or sudo)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		&& test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || scripts/install-chromium.sh

widget: ## Rebuild the web widget (bot/static/widget/, committed) from bot/widget/ with npm (Node >= 18)
	scripts/build-widget.sh

kb: $(KB_STAMP) ## Validate the knowledge base and build its artefacts (jieba dictionary, spaCy patterns, index)

$(KB_STAMP): $(STAMP) $(KB_SOURCES)
	$(PY) -m knowledge build
	@touch $@

train: $(MODEL) ## Train the Rasa model when data, config, domain or knowledge base changed

$(MODEL): $(KB_STAMP) $(RASA_SOURCES)
	$(RASA) train --domain domain.yml --data data --config config.yml --out models --fixed-model-name chuishao

run: train ## Set up, then run Rasa (5005), the action server (5055) and the bot web app (8000)
	$(PY) -m bot run

shell: train ## Chat with the assistant in the terminal (starts the action server too)
	scripts/shell.sh

lint: $(STAMP) ## Lint with ruff
	$(VENV)/bin/ruff check .

validate: $(KB_STAMP) ## Validate the knowledge base and the Rasa data
	$(PY) -m knowledge validate
	$(RASA) data validate --domain domain.yml --data data --config config.yml

# The test command runs the PostgreSQL, Redis and browser tests for real: there they fail, never skip.
pytest: train browser-deps ## Run the pytest suite (unit, integration on SQLite and PostgreSQL, end-to-end, browser)
	CHUISHAO_REQUIRE_POSTGRES=1 CHUISHAO_REQUIRE_REDIS=1 CHUISHAO_REQUIRE_BROWSER=1 $(VENV)/bin/pytest -q

test-stories: train ## Run the test stories with rasa test (fails on any prediction error)
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out results/stories

test: lint validate pytest test-stories ## Set up, then run ruff, pytest, rasa data validate and rasa test

eval: train ## Evaluate Chuishao and two baselines on eval/ through the running system's REST channel
	scripts/with-system.sh $(PY) -m eval.run_eval

bench: train ## Benchmark throughput, latency, lookup, training time and memory against Rasa's starter bot
	scripts/with-system.sh $(PY) -m eval.bench

lock: ## Re-pin requirements.lock from requirements.in in a scratch venv
	scripts/lock.sh

clean: ## Remove generated artefacts (keeps .venv)
	rm -rf build models results artifacts .pytest_cache .ruff_cache
