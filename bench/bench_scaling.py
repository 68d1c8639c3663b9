"""Scaling: how time and peak memory grow with sequence length, model size and dataset size.

    python bench/bench_scaling.py

- sequence length: one LoRA (``sft.lora``) training step of our answer-only loss on a batch of
  ``sft.batch_size`` rows of L = 64/128/256 tokens (the last 32 are the answer), full embedded model;
- model size: the same step at L = 128 with the first 8/15/30 decoder layers of SmolLM2-135M;
- dataset size: the dataset stage for 500/1000/2000 examples, and batched generation over 8/16/32
  test rows (SFT and DPO epochs are ``rows / batch_size`` steps of the per-step cost above).
Each point is its own subprocess (peak RSS is per point); a step time is the second of two steps (the
first is a warm-up); the results file is rewritten after every point.
bench/README.md extrapolates these to Qwen2.5-1.5B.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import common
from bench.bench_eval import default_model

ANSWER = 32


def step_worker(seq_len: int, layers: int | None) -> dict[str, Any]:
    common.set_threads()
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from jsontune.config import load_params
    from jsontune.training import answer_only_loss, lora_config

    params = load_params(common.REPO / "params.yaml")
    extra = {"num_hidden_layers": layers} if layers else {}
    base = AutoModelForCausalLM.from_pretrained(params.model.name, dtype=torch.float32, **extra)
    model = get_peft_model(base, lora_config(params.sft.lora))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    b = params.sft.batch_size
    torch.manual_seed(0)
    ids = torch.randint(100, base.config.vocab_size, (b, seq_len))
    labels = torch.full_like(ids, -100)
    labels[:, -ANSWER:] = ids[:, -ANSWER:]
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    times = []
    for _ in range(2):
        t = time.perf_counter()
        loss, _ = answer_only_loss(base, inputs)
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    shape = common.model_shape(model)
    flops = common.lora_train_flops(shape, [seq_len] * b, [ANSWER - 1] * b)["total"]
    step = times[1]
    return {"seq_len": seq_len, "layers": base.config.num_hidden_layers, "step_seconds": round(step, 3),
            "tokens_per_s": round(b * seq_len / step, 1), "gflops": round(flops / step / 1e9, 1),
            "params_m": round(sum(p.numel() for p in base.parameters()) / 1e6, 1)}


def dataset_worker(n: int) -> dict[str, Any]:
    from jsontune.config import load_params
    from jsontune.pipeline import run_dataset

    params = load_params(common.REPO / "params.yaml")
    params.dataset = replace(params.dataset, n_examples=n)
    t = time.perf_counter()
    run_dataset(params, Path(tempfile.mkdtemp(prefix="bench-scaling-")))
    return {"n_examples": n, "seconds": round(time.perf_counter() - t, 2)}


def gen_worker(n: int, model_name: str) -> dict[str, Any]:
    common.set_threads()
    from jsontune.config import load_params
    from jsontune.generation import generate
    from jsontune.models import load_for_inference, load_tokenizer

    params = load_params(common.REPO / "params.yaml")
    mp = replace(params.model, name=model_name)
    tok, model = load_tokenizer(mp), load_for_inference(mp)
    convs = [r["prompt"] for r in common.bench_rows("test", n)]
    generate(model, tok, convs[:2], batch_size=2, max_new_tokens=params.generation.max_new_tokens)
    t = time.perf_counter()
    generate(model, tok, convs, batch_size=params.generation.batch_size,
             max_new_tokens=params.generation.max_new_tokens)
    return {"rows": n, "seconds": round(time.perf_counter() - t, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gen-rows", default="8,16,32", help="test-row counts for the generation points")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--value", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--layers", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "step":
        common.emit(step_worker(args.value, args.layers))
        return
    if args.worker == "dataset":
        common.emit(dataset_worker(args.value))
        return
    if args.worker == "gen":
        common.emit(gen_worker(args.value, default_model()))
        return
    me = Path(__file__)
    raw: dict[str, Any] = {"seq_len": [], "layers": [], "dataset": [], "gen_rows": []}
    points = [("seq_len", ["--worker", "step", "--value", "128"])]
    points += [("layers", ["--worker", "step", "--value", "128", "--layers", str(n)]) for n in (8, 15)]
    points += [("seq_len", ["--worker", "step", "--value", str(n)]) for n in (64, 256)]
    points += [("dataset", ["--worker", "dataset", "--value", str(n)]) for n in (500, 1000, 2000)]
    points += [("gen_rows", ["--worker", "gen", "--value", v]) for v in args.gen_rows.split(",")]
    for kind, argv in points:  # the results file is rewritten after every point, so a cut-short run keeps them
        raw[kind].append(common.spawn(me, *argv))
        write(raw)
    print(common.RESULTS_MD.read_text())


def write(raw: dict[str, Any]) -> None:
    rows = []
    steps = sorted(raw["seq_len"], key=lambda r: r["seq_len"])
    full_128 = [r for r in steps if r["seq_len"] == 128]
    for r in steps:
        rows.append({"label": f"LoRA step, seq len {r['seq_len']} (30 layers)", "ours": r["step_seconds"],
                     "reference": None, "ratio": None,
                     "unit": f"s/step; {r['tokens_per_s']} tok/s, {r['gflops']} GFLOP/s, {r['peak_rss_mb']:.0f} MB"})
    for r in sorted(raw["layers"], key=lambda r: r["layers"]) + full_128:
        rows.append({"label": f"LoRA step, {r['layers']} layers ({r['params_m']}M params, seq 128)",
                     "ours": r["step_seconds"], "reference": None, "ratio": None,
                     "unit": f"s/step; {r['gflops']} GFLOP/s, {r['peak_rss_mb']:.0f} MB"})
    for r in raw["dataset"]:
        rows.append({"label": f"dataset stage, {r['n_examples']} examples", "ours": r["seconds"], "reference": None,
                     "ratio": None, "unit": f"s; {r['peak_rss_mb']:.0f} MB"})
    for r in raw["gen_rows"]:
        rows.append({"label": f"batched generation, {r['rows']} test rows", "ours": r["seconds"], "reference": None,
                     "ratio": None, "unit": f"s; {r['peak_rss_mb']:.0f} MB"})
    common.write_figure("scaling", rows, raw=raw, notes="see bench/README.md for the extrapolation")

if __name__ == "__main__":
    main()
