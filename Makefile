# Two commands on a fresh machine: `make run` and `make test`.
# torch is installed first, pinned to the CPU wheel kept on disk; an unpinned torch would pull a CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job. Until the built-in nano weights exist (training issue), it evaluates a tiny
# random-weight model on StickBench: the whole pipeline, offline, on this CPU.
DEMO := runs/demo
run: $(STAMP)
	$(BIN)/stickeval zoo
	$(BIN)/python -m fixtures.checkpoints $(DEMO)/checkpoint
	$(BIN)/stickeval inspect $(DEMO)/checkpoint
	$(BIN)/stickeval run $(DEMO)/checkpoint --suite quick --limit 32 --noise-prompts 4 -o $(DEMO)
	$(BIN)/stickeval report $(DEMO)

test: $(STAMP)
	$(BIN)/python -m pytest

# CPU speed targets (pytest-benchmark; figures in docs/benchmarks.md): CLI start-up (--help < 0.5 s),
# text encoding, generation, rendering a clip. GPU figures come from the scripts in benchmarks/.
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
