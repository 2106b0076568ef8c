# moranb: `make demo` (tiny profile, CPU) and `make test` each set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# torch first, pinned: an unpinned resolve would pull another multi-GB CUDA wheel.
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test test-fast clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[test,notebooks]"
	# The CLIP BPE vocabulary for the tiny tokenizers ships in this wheel; its own deps would re-resolve torch.
	$(PIP) install --quiet --no-deps openai-clip==1.0.1
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m moranb.demo --out outputs/demo

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) outputs/demo .pytest_cache
