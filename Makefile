# moranb: `make demo` (tiny profile, CPU) and `make test` each set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# torch first, pinned: an unpinned resolve would pull another multi-GB CUDA wheel.
TORCH  := torch==2.14.1 torchvision==0.29.1
VBENCH_DEPS := 'setuptools<81' 'timm<=1.0.12' openai-clip==1.0.1 decord easydict omegaconf einops ftfy regex \
	opencv-python-headless scipy

.PHONY: setup demo test test-fast reproduce lab strip clean
PROFILE ?= tiny

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[test,notebooks]"
	# VBench (the evaluation's reference code) pins transformers 4.33 and numpy<2: install it without its
	# dependencies, then the few it really needs. openai-clip also ships the CLIP BPE vocabulary the tiny
	# tokenizers are built from. setuptools<81 keeps pkg_resources, which openai-clip and VBench import.
	$(PIP) install --quiet --no-deps vbench==0.1.5 pyiqa==0.1.16
	$(PIP) install --quiet $(VBENCH_DEPS)
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
