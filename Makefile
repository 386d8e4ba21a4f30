# finder: `make run` serves the site with the national data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi.py

.PHONY: run test install db seed serve-prod bench bench-routing lint clean browser-deps

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

# Several gunicorn workers (production: FINDER_ENV=production, DATABASE_URL=postgresql+psycopg://...).
WORKERS ?= 4
serve-prod: db
	$(BIN)/gunicorn --workers $(WORKERS) --bind 127.0.0.1:8000 --access-logfile - wsgi:app

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

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance/*.sqlite3*
