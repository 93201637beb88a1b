# Two entry points: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OVL    := $(VENV)/bin/ovl
STAMP  := $(VENV)/.installed
OUT    := out

.PHONY: demo test setup tools bench clean

setup: $(STAMP) tools

# torch is installed first and pinned: 2.13.0's CPU wheel is on this machine's disk;
# any looser request would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

# iverilog (RTL simulation) and yosys (synthesis) come from apt when missing.
tools:
	@missing=""; \
	for t in iverilog yosys; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing$$missing with apt-get"; \
	    (apt-get install -y -qq$$missing || (apt-get update -qq && apt-get install -y -qq$$missing)) >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then \
	    echo "installing$$missing with sudo apt-get"; \
	    (sudo apt-get install -y -qq$$missing || (sudo apt-get update -qq && sudo apt-get install -y -qq$$missing)) >/dev/null; \
	  else \
	    echo "error: missing$$missing; not root and no sudo: run 'apt-get install$$missing' as root, then retry" >&2; exit 2; \
	  fi; \
	fi

demo: setup
	@mkdir -p $(OUT)
	$(OVL) demo --out $(OUT)

test: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) sim_build .pytest_cache
