# Two commands on a fresh machine: `make run` and `make test`.
# torch is installed first, pinned to the CPU wheel kept on disk; an unpinned torch would pull a CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run nano test lint bench bench-gpu clean

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
# jobs of 2 processes, the wheel, the first steps of `make nano`, the real-track evaluator (about 6 min).
# pytest-xdist spreads the tests over the CPUs, one worker per CPU up to 8 (each worker holds torch and
# its fixtures: about 1 GB), each computing on one thread; the tests that need the real track's evaluator
# share one build per run and one worker (tests/conftest.py: `real_track_cache`, `--dist loadgroup`).
# TEST_WORKERS=0 runs them in this process, on every thread.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 8 ] && n=8; echo $$n)
test: $(STAMP) lint
	$(if $(filter 0,$(TEST_WORKERS)),,OMP_NUM_THREADS=1) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(if $(CI),-m "not gpu")

# ruff (configured in pyproject.toml): lint, and the formatting every file is kept in.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The CPU figures of docs/benchmarks.md (pytest-benchmark, benchmarks/cpu/): CLI start-up, text encoding,
# generation and scoring, rendering a clip, `stickeval run nano` end to end; each test fails when its goal is missed.
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks/cpu --benchmark-enable -p no:cacheprovider

# The published GPU figures of docs/benchmarks.md (benchmarks/gpu/), on a machine with a CUDA GPU: engine
# throughput per size, `stickeval run` of the large size end to end (cold, then warm), sft-large training.
# GPU_PYTHON is an interpreter whose torch has CUDA (the venv holds the CPU wheel); results go to BENCH_OUT.
GPU_PYTHON ?= python3
BENCH_OUT ?= runs/bench-gpu
GPU_ENV = PYTHONPATH=$(CURDIR) PYTHON=$(GPU_PYTHON)
bench-gpu:
	@$(GPU_PYTHON) -c "import torch; assert torch.cuda.is_available()" 2>/dev/null || { \
	  echo "make bench-gpu: no CUDA GPU for GPU_PYTHON=$(GPU_PYTHON) (it needs a GPU and a CUDA build of torch); make bench runs the CPU figures." >&2; exit 1; }
	$(GPU_ENV) $(GPU_PYTHON) benchmarks/gpu/engine.py --out $(BENCH_OUT)/engine.json
	$(GPU_ENV) bash benchmarks/gpu/run_large.sh $(BENCH_OUT)/run-large --compile
	$(GPU_ENV) $(GPU_PYTHON) benchmarks/gpu/train_speed.py --out $(BENCH_OUT)/train_speed.json

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
