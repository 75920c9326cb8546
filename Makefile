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

.PHONY: demo install install-dev test-deps migrate demo-data serve test test-fast lint fmt bench worker beat clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamp files make repeated `make demo` / `make test` skip installs that already happened.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

test-deps: install-dev
	bash scripts/install-system-deps.sh

# The demo runs with a per-install secret key generated into $(KB_VAR_DIR or var/)/secret_key
# (settings refuse to start without DJANGO_SECRET_KEY otherwise).
demo demo-data migrate: export KB_DEMO ?= true

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

demo: demo-data
	@echo "Serving on http://$(HOST):$(PORT)/  (portal /, agent assist /agent/, editor /editor/, API docs /api/docs/)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

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
