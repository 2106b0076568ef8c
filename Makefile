# moranb: `make demo` (tiny profile, CPU) and `make test` each set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# torch first, pinned: an unpinned resolve would pull another multi-GB CUDA wheel.
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test test-fast reproduce lab strip clean
PROFILE ?= tiny

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[test]"
	# VBench and pyiqa without their stale pins (moranb/deps.py says why); quiet, no resolver errors.
	$(PY) -m moranb.deps
	# JupyterLab saves widget state with a notebook (a reopened one shows its widgets, not "model not found").
	$(PY) -m moranb.suite lab-settings
	# Committed notebooks stay without outputs, whatever JupyterLab saved: nbstripout as this clone's git filter
	# (.git/info/attributes; a copy without git skips it).
	if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/nbstripout --install; fi
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m moranb.demo --out outputs/demo

test: $(STAMP) $(CHROMIUM)
	$(VENV)/bin/lint-imports
	$(PY) -m moranb.suite check
	$(PY) -m pytest -q --durations=25

# tests/test_browser.py drives Debian's chromium through Playwright (`playwright install` would download a browser
# from outside PyPI/Debian); a new CI machine (root, Debian 12) gets it from apt, once.
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Every notebook, run headlessly by papermill into outputs/$(PROFILE)/ (PROFILE=full on a GPU machine).
reproduce: $(STAMP)
	$(PY) -m moranb.suite reproduce --profile $(PROFILE) --out outputs/$(PROFILE)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

strip: $(STAMP)
	$(PY) -m moranb.suite strip

clean:
	rm -rf $(VENV) outputs/demo .pytest_cache
