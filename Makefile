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

.PHONY: install demo test test-fast test-slow test-installer bench train-default calibrate-trust evaluate-trust installer clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_ARGS) "$(TORCH_REQ)"
	$(PY) -m pip install -q $(PIP_ARGS) -e ".[test,train]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/candor demo

test: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-installer: installer
	$(PY) -m pytest -m slow tests/installer $(PYTEST_ARGS)

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
