"""Train the committed SFT once and score averages of its late LoRA weights (free at train time).

    python bench/sft_average.py [--seed 13] [--every 35] [--since 350]

Snapshots the adapter weights every ``--every`` steps from step ``--since``, then scores the final
adapter and the averages of the last 3, 5, ... snapshots on the 300 val + test rows (checkpoint
averaging, no extra training). Prints one RESULT line per average; the final adapter goes to
/tmp/exp/avg_s<seed>. Run `dvc repro dataset` first. A quality experiment (docs/experiments.md), not a
speed figure.
"""
import argparse
import time

import torch
from peft import get_peft_model_state_dict, set_peft_model_state_dict
from transformers import TrainerCallback, set_seed

from jsontune.config import load_params
from jsontune.data import read_jsonl
from jsontune.evaluation import evaluate_rows
from jsontune.models import load_base_model, load_for_inference, load_tokenizer
from jsontune.tasks import load_task
from jsontune.training import save_adapter, sft_trainer, training_base

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--seed", type=int, default=13)
ap.add_argument("--every", type=int, default=35, help="snapshot interval in steps")
ap.add_argument("--since", type=int, default=350, help="first step snapshotted")
args = ap.parse_args()

p = load_params("params.yaml")
p.sft.seed = args.seed  # no checkpoint_dir is passed, so the trainer saves no checkpoints
set_seed(p.sft.seed)
tok = load_tokenizer(p.model)
val, test = read_jsonl("data/val.jsonl"), read_jsonl("data/test.jsonl")
schema = load_task(p.task.name).schema
snapshots: dict[int, dict[str, torch.Tensor]] = {}


class Snapshot(TrainerCallback):
    def on_step_end(self, args_, state, control, model=None, **kw):
        if state.global_step >= args.since and state.global_step % args.every == 0:
            snapshots[state.global_step] = {k: v.detach().float().clone()
                                            for k, v in get_peft_model_state_dict(model).items()}


out = f"/tmp/exp/avg_s{args.seed}"
trainer = sft_trainer(load_base_model(training_base(p.model, p.sft)), tok, read_jsonl("data/train.jsonl"),
                      p.sft, p.model, out)
trainer.add_callback(Snapshot())
started = time.time()
trainer.train()
print(f"train {time.time() - started:.0f} s, snapshots at steps {sorted(snapshots)}", flush=True)
save_adapter(trainer, out)
model = load_for_inference(p.model, out)
steps = sorted(snapshots, reverse=True)
for n in range(1, len(steps) + 1, 2):
    kept = steps[:n]
    set_peft_model_state_dict(model, {k: sum(snapshots[s][k] for s in kept) / n for k in snapshots[steps[0]]})
    preds, m = evaluate_rows(model, tok, val + test, schema, p.generation)
    exact = [r["exact_match"] for r in preds]
    print(f"RESULT seed {args.seed} steps {kept[-1]}-{kept[0]} ({n} snapshots): 300 rows {m['exact_match']:.3f} "
          f"val {sum(exact[:len(val)]) / len(val):.3f} test {sum(exact[len(val):]) / len(test):.3f} "
          f"per_field {m['per_field']}", flush=True)
