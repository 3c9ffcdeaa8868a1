# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# On a GPU machine, override with e.g. `make TORCH=torch demo` to get the CUDA build from the index.
# Here `torch==2.13.0` resolves to the local CPU wheel.
TORCH ?= torch==2.13.0
SEED ?= 0
COMPETITION ?= loan-default
PYTEST_ARGS ?=

.PHONY: demo test test-fast venv system-deps test-deps clean

TOOLBOX := $(VENV)/nbdojo-toolbox

venv: $(VENV)/.installed $(TOOLBOX)/.installed system-deps

# bubblewrap sandboxes the agent's kernel. As root we install it; otherwise we say how.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (sandbox for the agent's kernel)"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "nbdojo needs bubblewrap: run 'sudo apt-get install bubblewrap' (or pass --no-sandbox)"; exit 1; \
	  fi; }

# Debian's Chromium for the browser tests (watch, compare): Playwright drives it, so no browser download.
test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (headless browser for the watch and compare tests)"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "the browser tests need Debian's chromium: run 'sudo apt-get install chromium'"; exit 1; \
	  fi; }

$(VENV)/.installed: pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

# The agent's toolbox: the kernel's own Python environment (the Kaggle stack, nothing of nbdojo's or of the data
# sources). Pip users build it with `nbdojo toolbox build`.
$(TOOLBOX)/.installed: $(VENV)/.installed nbdojo/kernel/toolbox.py
	$(VENV)/bin/nbdojo toolbox build --path $(TOOLBOX) --torch "$(TORCH)"
	@touch $@

demo: venv
	$(VENV)/bin/nbdojo run $(COMPETITION) --agent baseline --out runs --seed $(SEED)

test: venv test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit tier: no kernel, no browser, no large build (tests marked kernel, browser or slow are left out).
test-fast: venv
	$(PY) -m pytest -m "not kernel and not browser and not slow" -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
