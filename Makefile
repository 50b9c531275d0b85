# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned here (a local CPU wheel on our machines); pyproject keeps lower bounds.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench train ship clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

# The shipped agent (agent/shipped) carries out three commands in one scene, filmed and narrated.
demo: $(STAMP)
	$(BIN)/saccade demo --out runs/demo/demo.mp4

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Train every stage of the default agent headless (run again to continue after an interruption),
# then copy its models into agent/shipped.
train: $(STAMP)
	$(BIN)/saccade train all --config configs/default.yaml

ship: $(STAMP)
	$(BIN)/python -m agent.shipping runs/default --eval benchmarks/results/agent.json

bench: $(STAMP)
	$(BIN)/saccade bench env --json --out benchmarks/results/env.json

clean:
	rm -rf $(VENV) runs .pytest_cache
