# Candor: two commands for a newcomer: `make demo` and `make test`.
# The torch requirement is a variable so CI (and CPU-only machines) can pin a CPU build:
#   make test TORCH_REQ="torch==2.13.0"
PYTHON    ?= python3
VENV      ?= .venv
TORCH_REQ ?= torch>=2.6
PIP_ARGS  ?=
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.candor-installed
PYTEST_ARGS ?=

export XDG_CACHE_HOME ?= $(CURDIR)/.cache
export MPLCONFIGDIR   ?= $(CURDIR)/.cache/matplotlib
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: install demo lint test test-float32 test-fast test-slow test-installer fuzz bench train-default calibrate-trust evaluate-trust installer clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_ARGS) "$(TORCH_REQ)"
	# Hold the torch just installed: a package that asks for a newer one (nnunetv2 does) must not
	# pull a multi-GB CUDA build over it.
	$(PY) -c "import torch; print('torch==' + torch.__version__.split('+')[0])" > $(VENV)/constraints.txt
	$(PY) -m pip install -q $(PIP_ARGS) -c $(VENV)/constraints.txt -e ".[test,train,peers]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/candor demo

# Style/bug checks (ruff) and the import-layer contracts in pyproject.toml (lint-imports).
lint: install
	$(VENV)/bin/ruff check engine viewer tests bench
	$(VENV)/bin/lint-imports --no-cache

test: lint
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# The numeric path of a CPU without AVX-512/bf16 hardware (e.g. an AMD EPYC of the Zen 2/3 kind),
# on any CPU: bf16 autocast off, oneDNN and ATen kernels capped at AVX2. CI runs it after `test`.
FLOAT32_ENV := CANDOR_FORCE_FLOAT32=1 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2

test-float32: install
	$(FLOAT32_ENV) $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-installer: installer
	$(PY) -m pytest -m slow tests/installer $(PYTEST_ARGS)

# The long fuzz run (docs/RELIABILITY.md): a seeded mutation fuzzer over real DICOM/NIfTI/NRRD/MHA
# seeds, each case in a worker with a time and memory limit; new failures go to tests/fuzz/corpus/.
FUZZ_CASES ?= 20000
FUZZ_SEED  ?= 1

fuzz: install
	mkdir -p .cache
	$(PY) -m tests.fuzz.run --cases $(FUZZ_CASES) --seed $(FUZZ_SEED) --json .cache/fuzz.json

bench: install
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

train-default: install
	$(PY) -m engine.training.train_default

# Trust layer: temperature + OOD thresholds into the default model's manifest (run after training),
# then the generated OOD suite (docs/MODELS.md, "Trust: calibration and OOD").
calibrate-trust: install
	$(PY) -m engine.training.calibrate_trust

evaluate-trust: install
	$(PY) -m engine.training.evaluate_trust --out .cache/trust_eval.json

installer: install
	$(PY) -m pip install -q $(PIP_ARGS) -e ".[installer]"
	$(PY) installer/build.py

clean:
	rm -rf build dist .cache .pytest_cache
