# The two commands a researcher needs: `make reproduce` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install reproduce replicate test test-fast lint format complexity bench bench-models gpu-check clean docs lab browser

install: $(STAMP)

# TORCH=cpu: torch and torchvision from PyTorch's CPU wheel index, at the same pins (no CUDA libraries), as the
# Dockerfile's default image does; empty (the default): PyPI's wheels, which bring the CUDA libraries. It applies
# when .venv is made: on a new clone, or after `make clean`.
TORCH ?=
ifneq ($(filter-out cpu,$(TORCH)),)
$(error TORCH=$(TORCH): the choices are TORCH=cpu and none (PyPI's wheels))
endif
TORCH_INDEX = $(if $(filter cpu,$(TORCH)),https://download.pytorch.org/whl/cpu)

# Idempotent: re-runs pip only when pyproject.toml changes. torch/torchvision are pinned in
# pyproject.toml (torch==2.14.1, torchvision==0.29.1).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet --index-url $(TORCH_INDEX) torch==2.14.1 torchvision==0.29.1)
	$(PY) -m pip install --quiet -e ".[notebooks,dev]"
	touch $(STAMP)

PROFILE ?= smoke

# Regenerate results/: the complexity table, then every notebooks/NN_*.py with papermill (one process each;
# a failing notebook is reported and the others still run; the exit code says whether all passed).
reproduce: install complexity
	$(PY) -m actionlib reproduce --profile $(PROFILE)

complexity: install
	$(PY) -m actionlib complexity --csv results/tables/complexity.csv

# Replication: the default profile rerun from scratch on new seeds (SEED, SEED+1, ...) into scratch/check/<time>/,
# its verdicts against the committed ones copied to results/tables/replication.csv (the check exits 1 when a
# verdict changed: that is a result, not a failure, here).
SEED ?= 100
replicate: install
	-$(PY) -m actionlib reproduce --profile $(PROFILE) --check -p seed=$(SEED)
	cp "$$(ls -d scratch/check/*/ | tail -n 1)replication.csv" results/tables/replication.csv

test: install browser
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
# the data pipeline, peers (PyTorchVideo with `pip install -e ".[bench]"`, torchvision) -> results/benchmarks/
# (README.md, CSV, Markdown, figure). About 20 min on 2 idle cores.
# torch.compile / bf16 trials are opt-in: $(PY) -m benchmarks.bench_all --trials
bench: install
	$(PY) -m benchmarks.bench_all

bench-models: bench

# On a CUDA machine: training steps (fp32 / AMP bf16 / AMP fp16, channels-last), the data loader, a NCCL DDP step
# and the GPU-hours of a full reproduction -> results/benchmarks/gpu.{csv,md}, gpu_hours.csv; budgeted to 7 minutes.
gpu-check: install
	$(PY) -m benchmarks.gpu_check --out results/benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache

# The results site, results/site/, built from results/executed/*.ipynb without running them (docs/site/build.py:
# Sphinx + myst-nb, offline). `make reproduce` rebuilds it at its end.
docs: install
	$(PY) -c "import myst_nb, sphinx_book_theme" 2>/dev/null || $(PY) -m pip install --quiet -e ".[docs]"
	$(PY) docs/site/build.py --results results --out results/site

# JupyterLab on the repository, opened in notebooks/: a NN_*.py file opens as a notebook (jupytext) and saving it
# keeps its header (jupytext.toml). The project's settings in .jupyter/ (that default viewer, the `python3`
# kernel with the display name the headers record) are added to the user's own configuration, which stays as it
# is. Root (a container) gets --allow-root; more options with LAB_ARGS="--port 8900 --no-browser".
LAB_ARGS ?=
lab: install
	$(VENV)/bin/jupytext-config --settings-file .jupyter/labconfig/default_setting_overrides.json set-default-viewer python
	JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	JUPYTER_PATH="$(CURDIR)/.jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH}" \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Debian's chromium and chromedriver, for the browser test of the site (tests/test_docs.py): installed with apt-get
# when missing and run as root (about 50 s, once); otherwise, or when apt-get fails, a note, and that test skips.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "browser: $$(chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser: installing chromium and chromium-driver with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
			|| echo "browser: apt-get failed; the browser test will be skipped"; \
	else \
		echo "browser: chromium or chromedriver missing (as root on Debian: make browser); the browser test will be skipped"; \
	fi
