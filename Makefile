# Two commands on a fresh machine: `make run` and `make test`.
# torch is installed first, pinned to the CPU wheel kept on disk; an unpinned torch would pull a CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run nano test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: the zoo, then the built-in nano (its weights ship inside the package) on the StickBench
# quick suite with prompt noise: offline, on this CPU, in under a minute (docs/benchmarks.md).
run: $(STAMP)
	$(BIN)/stickeval zoo
	HF_HUB_OFFLINE=1 $(BIN)/stickeval run nano -o runs/nano
	$(BIN)/stickeval report runs/nano

# Retrain the built-in nano and nano-sft from scratch (recipes pretrain-nano, sft-nano; one thread, so
# bit-identical on the same machine) into stickeval/zoo/builtin/, each with a manifest of how it was made.
nano: $(STAMP)
	$(BIN)/python scripts/build_nano.py

# Locally the slow tests are left out (pytest's addopts); CI (CI=true, .ci/run) runs them too: torchrun
# jobs of 2 processes, the wheel, the first steps of `make nano`, the real-track evaluator (about 4 min).
test: $(STAMP)
	$(BIN)/python -m pytest $(if $(CI),-m "not gpu")

# CPU speed targets (pytest-benchmark; figures in docs/benchmarks.md): CLI start-up (--help < 0.5 s),
# text encoding, generation, rendering a clip. GPU figures come from the scripts in benchmarks/.
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
