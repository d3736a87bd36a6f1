# The two commands a researcher needs: `make reproduce` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install reproduce test test-fast lint format complexity bench bench-models gpu-check clean

install: $(STAMP)

# Idempotent: re-runs pip only when pyproject.toml changes. torch/torchvision are pinned in
# pyproject.toml (torch==2.14.1, torchvision==0.29.1).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[notebooks,dev]"
	touch $(STAMP)

PROFILE ?= smoke

# Regenerate results/: the complexity table, then every notebooks/NN_*.py with papermill (one process each;
# a failing notebook is reported and the others still run; the exit code says whether all passed).
reproduce: install complexity
	$(PY) -m actionlib reproduce --profile $(PROFILE)

complexity: install
	$(PY) -m actionlib complexity --out results/tables/complexity.csv

test: install
	$(PY) -m ruff check actionlib tests benchmarks notebooks
	$(PY) -m ruff format --check actionlib tests benchmarks notebooks
	$(PY) -m pytest -q -m "not slow"
	$(PY) -m pytest -q -m slow

test-fast: install
	$(PY) -m pytest -q -m "not slow" -x

lint: install
	$(PY) -m ruff check actionlib tests benchmarks notebooks
	$(PY) -m ruff format --check actionlib tests benchmarks notebooks

format: install
	$(PY) -m ruff format actionlib tests benchmarks notebooks
	$(PY) -m ruff check --fix actionlib tests benchmarks notebooks

# The benchmark suite (benchmarks/bench_all.py): model speed and memory at the thesis's clip sizes,
# late-head overhead, end-to-end training, predict latency, torchvision comparison, activation checkpointing and
# the data pipeline -> results/benchmarks/ (README.md, CSV, Markdown, figure). Under 15 min on 2 idle cores.
# torch.compile / bf16 trials are opt-in: $(PY) benchmarks/bench_all.py --trials
bench: install
	$(PY) benchmarks/bench_all.py

bench-models: bench

# On a CUDA machine: training steps (fp32 / AMP bf16 / AMP fp16, channels-last), the data loader, a NCCL DDP step
# and the GPU-hours of a full reproduction -> results/benchmarks/gpu.{csv,md}, gpu_hours.csv; budgeted to 7 minutes.
gpu-check: install
	$(PY) benchmarks/gpu_check.py --out results/benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache
