# Floorwatch: `make help` lists the targets. Every target creates or reuses .venv by itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv system test check lint types bench soak demo clean
DEBIAN_PACKAGES := chromium prometheus
# what each package provides on PATH (checked before installing anything)
DEBIAN_COMMANDS := chromium promtool prometheus

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create or update the virtual environment (.venv)

system: ## install the Debian packages the tests need (chromium, prometheus) when missing
	@missing=""; for c in $(DEBIAN_COMMANDS); do command -v $$c >/dev/null || missing=yes; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES); \
	fi

test: $(STAMP) system ## run the test suite (what CI runs)
	$(PY) -m pytest -q

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP) ## mypy --strict on streams/ and config/
	$(VENV)/bin/mypy

check: lint types test ## lint + types + tests

bench: $(STAMP) ## benchmarks, printing measured figures side by side
	$(PY) -m benchmarks.core_fold
	$(PY) -m benchmarks.pipeline
	$(PY) -m benchmarks.fanout

soak: $(STAMP) ## soak: 2,000 events/s for 30 min on one worker + gateway (RSS slopes, lag, error lines)
	$(PY) -m benchmarks.soak

demo: $(STAMP) ## run the whole stack locally (embedded broker, worker, gateway, simulator)
	$(VENV)/bin/floorwatch demo

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
