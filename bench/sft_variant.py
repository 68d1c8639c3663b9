"""Train one SFT variant on data/train.jsonl and score it on data/val.jsonl (never the test split).

    python bench/sft_variant.py NAME sft.batch_size=4 sft.lora.target_modules=all-linear [key=value ...]

Prints one RESULT line (train seconds, steps, validation exact match and per-field accuracy); the
adapter goes to /tmp/exp/NAME. `task.system_prompt=...` rewrites the system message of the train
and val rows, so prompt wording can be compared without rerunning the dataset stage. Run `dvc repro dataset` first.
"""
import json
import sys
import time
from pathlib import Path

from transformers import set_seed

from jsontune.config import load_params
from jsontune.data import prompt_messages, read_jsonl
from jsontune.evaluation import evaluate_rows
from jsontune.models import load_base_model, load_for_inference, load_tokenizer
from jsontune.tasks import load_task
from jsontune.training import train_sft, training_base

p = load_params("params.yaml")
name = sys.argv[1]
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    obj = p
    *parents, leaf = k.split(".")
    for q in parents:
        obj = getattr(obj, q)
    cur = getattr(obj, leaf)
    if v == "all-linear" or isinstance(cur, str):
        val = v
    elif isinstance(cur, list):
        val = v.split(",")
    elif isinstance(cur, bool):
        val = v == "true"
    else:
        val = type(cur)(float(v))
    setattr(obj, leaf, val)
set_seed(p.sft.seed)
tok = load_tokenizer(p.model)
rows = read_jsonl("data/train.jsonl")
val_rows = read_jsonl("data/val.jsonl")
if "task.system_prompt" in dict(kv.split("=", 1) for kv in sys.argv[2:]):
    for row in rows + val_rows:
        row["prompt"] = prompt_messages(row["text"], p.task.system_prompt)
out = Path("/tmp/exp") / name
t = time.time()
r = train_sft(load_base_model(training_base(p.model, p.sft)), tok, rows, p.sft, p.model, out)
tt = time.time() - t
model = load_for_inference(p.model, out)
_, m = evaluate_rows(model, tok, val_rows, load_task(p.task.name).schema, p.generation)
summary = {"train_s": round(tt), "steps": r["log"][-1]["step"], "em": m["exact_match"],
           "per_field": m["per_field"], "schema": m["schema_validity"]}
print("RESULT", name, json.dumps(summary))
