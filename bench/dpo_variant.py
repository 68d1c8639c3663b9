"""Train one DPO variant from the committed SFT adapter and score it on data/val.jsonl (never the test split).

    python bench/dpo_variant.py NAME dpo.beta=0.1 dpo.n_prompts=64 [key=value ...]

Runs the pipeline's own dpo stage (`jsontune.pipeline.run_dpo`: pairs, on-policy samples, training) with
``params.yaml`` plus the overrides in a scratch root that links this checkout's data/ and runs/sft/, then
scores the new adapter on the validation split. Prints one RESULT line (pairs, DPO seconds, validation exact
match, schema validity, per-field accuracy, next to the SFT adapter's from metrics/val.json). Needs `dvc repro eval`.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.bench_pipeline import set_param
from bench.common import REPO
from jsontune.config import params_from_dict
from jsontune.data import read_jsonl
from jsontune.evaluation import evaluate_rows
from jsontune.models import load_for_inference, load_tokenizer
from jsontune.pipeline import ADAPTER, VAL_METRICS, run_dpo
from jsontune.tasks import load_task


def main() -> None:
    name, overrides = sys.argv[1], sys.argv[2:]
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for kv in overrides:
        key, value = kv.split("=", 1)
        set_param(raw, key, value)
    params = params_from_dict(raw, "params.yaml + " + " ".join(overrides))
    root = Path(tempfile.mkdtemp(prefix=f"dpo-{name}-"))
    (root / "runs").mkdir()
    (root / "data").symlink_to(REPO / "data")
    (root / "runs" / "sft").symlink_to(REPO / "runs" / "sft")
    started = time.time()
    summary = run_dpo(params, root)
    seconds = round(time.time() - started)
    tok = load_tokenizer(params.model)
    schema = load_task(params.task.name).schema
    val_rows = read_jsonl(REPO / "data" / "val.jsonl")
    model = load_for_inference(params.model, root / ADAPTER.format(stage="dpo"))
    _, m = evaluate_rows(model, tok, val_rows, schema, params.generation)
    sft = json.loads((REPO / VAL_METRICS).read_text(encoding="utf-8"))["sft"]
    scores = {stage: {"em": s["exact_match"], "schema": s["schema_validity"], "per_field": s["per_field"],
                      "failures": {k: v for k, v in s["failures"].items() if v}}
              for stage, s in (("dpo", m), ("sft", sft))}
    print("RESULT", name, json.dumps({"pairs": summary["pairs"], "kinds": summary["pair_kinds"], "dpo_s": seconds,
                                      "margin": summary["final_reward_margin"], **scores}))


if __name__ == "__main__":
    main()
