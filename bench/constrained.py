"""Free vs constrained decoding on the real model: accuracy, tokens/s and how many rows reuse saves.

    python bench/constrained.py [--adapter runs/sft/adapter] [--rows data/test.jsonl] [--n 32]

Decodes the first N rows three times (free; constrained decoding every row; constrained reusing the free
answers the grammar accepts) and prints one RESULT line. Inference only; run `dvc repro dataset` first.
"""
import argparse
import json

from jsontune.config import load_params
from jsontune.data import read_jsonl
from jsontune.evaluation import score_predictions
from jsontune.generation import run_generation
from jsontune.models import load_for_inference, load_tokenizer
from jsontune.tasks import load_task

parser = argparse.ArgumentParser()
parser.add_argument("--adapter")
parser.add_argument("--rows", default="data/test.jsonl")
parser.add_argument("--n", type=int, default=32)
args = parser.parse_args()
p = load_params("params.yaml")
schema, tok = load_task(p.task.name).schema, load_tokenizer(p.model)
model = load_for_inference(p.model, args.adapter)
rows = read_jsonl(args.rows)[: args.n]
prompts = [r["prompt"] for r in rows]
g = p.generation
free = run_generation(model, tok, prompts, batch_size=g.batch_size, max_new_tokens=g.max_new_tokens)
full = run_generation(model, tok, prompts, batch_size=g.batch_size, max_new_tokens=g.max_new_tokens,
                      decoding="constrained", schema=schema)
reused = run_generation(model, tok, prompts, batch_size=g.batch_size, max_new_tokens=g.max_new_tokens,
                        decoding="constrained", schema=schema, reuse=free)
result = {"adapter": args.adapter, "n": len(rows)}
for name, run in (("free", free), ("constrained", full), ("constrained_reuse", reused)):
    m = score_predictions(rows, run.texts, schema)[1]
    result[name] = {"schema_validity": m["schema_validity"], "exact_match": m["exact_match"], **run.speed()}
result["reuse_identical_to_full"] = sum(a == b for a, b in zip(full.texts, reused.texts, strict=True))
print("RESULT", json.dumps(result))
