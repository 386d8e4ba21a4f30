# finder: `make run` serves the site with the national data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi.py

.PHONY: run test install db seed serve-prod bench bench-routing load load-calls load-search faults lint clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

db: install
	$(BIN)/flask db upgrade

seed: db
	$(BIN)/flask seed

run: seed
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# gunicorn as in production (docs/deployment.md): deploy/gunicorn.conf.py reads WEB_CONCURRENCY
# (workers, 4), GUNICORN_THREADS, GUNICORN_BIND (127.0.0.1:8000) and more from the environment.
# Production: FINDER_ENV=production DATABASE_URL=postgresql+psycopg://... and the secrets.
serve-prod: db
	$(BIN)/gunicorn --config deploy/gunicorn.conf.py wsgi:app

test: install browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium missing: run 'sudo apt-get update && sudo apt-get install -y chromium' for the browser tests"; \
		fi; \
	fi

bench: seed
	$(BIN)/python benchmarks/search.py

# Call routing: the policy in-process, then the voice webhooks under gunicorn on SQLite and
# PostgreSQL (its own throwaway databases; needs no seed). BENCH_ARGS="--engine sqlite" etc.
bench-routing: install
	$(BIN)/python benchmarks/routing.py $(BENCH_ARGS)

# Load under gunicorn -w 4 (production settings) on throwaway PostgreSQL databases of the local
# server (benchmarks/README.md): 244 simultaneous signed calls on a pool with tight caps, checked
# from the database, then the privacy check (~2 min); then 32 clients searching for 60 s on the
# national data (~2.5 min). LOAD_ARGS / SEARCH_ARGS pass options ("--engine sqlite", "--keep").
load: load-calls load-search

load-calls: install
	$(BIN)/python benchmarks/load_calls.py $(LOAD_ARGS)

load-search: install
	$(BIN)/python benchmarks/load_search.py $(SEARCH_ARGS)

# Faults under gunicorn -w 4 on a private PostgreSQL 15 cluster (never the shared server): a
# worker killed mid-call, Twilio's retries, the database stopped then hung (~3 min; needs
# /usr/lib/postgresql/15/bin and, as root, the postgres system user). FAULT_ARGS="--workers 2".
faults: install
	$(BIN)/python benchmarks/faults.py $(FAULT_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance/*.sqlite3*
