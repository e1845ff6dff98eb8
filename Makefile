# lms_admin — `make run` starts the app with demo data, `make test` runs the checks and the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test soak lint format bench clean

help:
	@echo "make run     start lms_admin on http://127.0.0.1:8000/ with a worker and demo data (Ctrl-C stops)"
	@echo "make test    ruff, migration check and the whole test suite (ARGS=... goes to pytest)"
	@echo "make soak    10 minutes of random archives, progress updates and merges on two workers (SOAK_SECONDS=...)"
	@echo "make lint    ruff check and ruff format --check"
	@echo "make format  ruff format and ruff check --fix"
	@echo "make bench   the performance benchmarks (writes docs/PERFORMANCE.md)"
	@echo "make clean   remove var/ (embedded database, Redis, media)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall whenever a requirements file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) scripts/run.py

test: $(VENV)/.installed-dev
	$(PY) scripts/test.py $(ARGS)

# The suite runs the same soak for 30 s; this is the long run (SPEC §10), not part of CI.
soak: $(VENV)/.installed-dev
	SOAK_SECONDS=$${SOAK_SECONDS:-600} $(PY) scripts/test.py -s tests/archive/test_soak.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.installed-dev
	DEBUG=$${DEBUG:-1} $(PY) scripts/servers.py --database lms_admin_bench -- $(PY) -m bench $(ARGS)

clean:
	rm -rf var/
