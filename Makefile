# Xinmiao 心苗 — two commands: `make run` and `make test`. Everything else is a step they call.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
export XINMIAO_ENV ?= development

.PHONY: run test lint venv deps dev-deps translations db demo serve bench bench-district wrk clean system-test-deps e2e-deps pdf-deps

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt requirements.txt $(VENV)/.deps
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/bin/activate
deps: $(VENV)/.deps pdf-deps
dev-deps: $(VENV)/.dev-deps

## make pdf-deps (part of deps): the Debian packages of the PDF reports (app/reports/pdf.py), installed when
## missing: Pango and HarfBuzz's subsetter for WeasyPrint, the Noto CJK fonts it embeds, and poppler-utils
## (pdftotext, pdftoppm, pdffonts), with which the tests read the reports back. Elsewhere than Debian: a note.
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils
pdf-deps:
	@command -v dpkg-query >/dev/null 2>&1 || { echo "pdf-deps: not Debian; install Pango, Noto Sans CJK and poppler yourself"; exit 0; }; \
	missing=$$(for p in $(PDF_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing the PDF reports' Debian packages:" $$missing; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

translations: deps
	$(PY) translations/build.py

db: deps
	mkdir -p instance
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo seed --if-empty

## make run: virtualenv, dependencies, translations, migrations, demo district if empty, then serve
## (with one scheduler process beside the development server; see README).
run: translations demo
	@echo ""
	@echo "  Xinmiao is starting on http://$(HOST):$(PORT)/"
	@echo "  Demo accounts (password: $${DEMO_PASSWORD:-xinmiao-demo}):"
	@echo "    admin     — system administrator"
	@echo "    district  — district education office (aggregates only)"
	@echo "    counselor — school counselor of two schools"
	@echo "    teacher   — head teacher of one class"
	@echo "    leader    — school leader of one school (its figures only)"
	@echo "    city      — city education commission (its districts compared)"
	@echo "  Students self-complete at http://$(HOST):$(PORT)/s"
	@echo ""
	$(FLASK) serve --host $(HOST) --port $(PORT)

## make lint: ruff (pyflakes, pycodestyle at 120 columns, bugbear, import order, pyupgrade) over every Python
## file, then mypy (strict on screening/ and models/, the default elsewhere). Settings: pyproject.toml.
lint: dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## make test: virtualenv, dev dependencies, make lint, translations, then the whole suite on SQLite, and on
## PostgreSQL when TEST_DATABASE_URL is set. Browser tests need /usr/bin/chromium (.ci/run installs it).
# Tests run in parallel processes (pytest-xdist); each process gets its own databases.
# The clock is moved for every run (models/clock.py): to XINMIAO_NOW when given, else to an instant picked per
# run near today (within three weeks, often near local midnight). Both halves start at the same instant; the
# instant is printed first and again on failure, so `XINMIAO_NOW=... make test` replays the run.
PYTEST_ARGS ?= -n 2
CLOCK := $(PY) -c 'import sys; from models.clock import main; sys.exit(main(sys.argv[1:]))'
test: lint translations
	@now="$${XINMIAO_NOW:-$$($(CLOCK) pick)}" && $(CLOCK) check "$$now" >/dev/null || exit 2; \
	echo "== clock moved for this run: XINMIAO_NOW=$$now make test =="; \
	export XINMIAO_NOW="$$now"; unset XINMIAO_NOW_ANCHOR; \
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS) \
	  || { rc=$$?; echo "== failed with the clock at XINMIAO_NOW=$$now (replay: XINMIAO_NOW=$$now make test) =="; exit $$rc; }; \
	if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== database-touching tests again on PostgreSQL ($$TEST_DATABASE_URL), XINMIAO_NOW=$$now =="; \
	  XINMIAO_TEST_DB=postgresql $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS) -m "db" \
	    || { rc=$$?; echo "== failed with the clock at XINMIAO_NOW=$$now (replay: XINMIAO_NOW=$$now make test) =="; exit $$rc; }; \
	fi

## make bench: the benchmarks at small scale (docs/benchmarks.md); make bench-district: 60,000 students.
## HTTP load comes from wrk (Debian's package), installed here when missing.
wrk:
	@command -v wrk >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

bench: dev-deps wrk
	$(PY) -m bench

bench-district: dev-deps wrk
	BENCH_SCALE=district $(PY) -m bench

clean:
	rm -rf $(VENV) instance/*.db instance/audit-checkpoints.jsonl translations/zh  # a new database starts a new chain
