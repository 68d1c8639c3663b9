"""Speed levers measured one at a time on the embedded model (keep what wins, document what did not).

    python bench/bench_levers.py [--gen-rows 64] [--sft-steps 4]

Generation (batched greedy on the same test rows, fine-tuned ``runs/merged`` if present): batch size
8/16/32/64, eager vs SDPA attention, 1 vs 2 torch threads. SFT (our trainer, same train rows): SDPA vs
eager attention, padding-free collation (TRL ``padding_free=True``: one concatenated row per batch,
``position_ids`` restart per example, no padding), and 1 vs 2 threads. Each variant is its own
subprocess; the first SFT step is untimed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import common
from bench.bench_eval import default_model


def gen_worker(n: int, model_name: str, batch_size: int, attn: str) -> dict[str, Any]:
    common.set_threads()
    from jsontune.config import load_params
    from jsontune.generation import generate
    from jsontune.models import load_for_inference, load_tokenizer

    params = load_params(common.REPO / "params.yaml")
    mp = replace(params.model, name=model_name)
    tok = load_tokenizer(mp)
    model = load_for_inference(mp)
    model.set_attn_implementation(attn)
    convs = [r["prompt"] for r in common.bench_rows("test", n)]
    generate(model, tok, convs[:2], batch_size=2, max_new_tokens=params.generation.max_new_tokens)
    start = time.perf_counter()
    raws = generate(model, tok, convs, batch_size=batch_size, max_new_tokens=params.generation.max_new_tokens)
    seconds = time.perf_counter() - start
    tokens = sum(len(tok(r, add_special_tokens=False)["input_ids"]) for r in raws)
    return {"seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "examples_per_s": round(n / seconds, 3)}


def sft_worker(steps: int, attn: str, padding_free: bool) -> dict[str, Any]:
    common.set_threads()
    from transformers import set_seed

    from jsontune.config import load_params
    from jsontune.models import load_base_model, load_tokenizer
    from jsontune.training import (
        SFT_COLUMNS,
        _answer_only_trainer_class,
        _dataset,
        lora_config,
        sft_config,
        training_base,
    )

    params = load_params(common.REPO / "params.yaml")
    p = replace(params.sft, epochs=1.0)
    rows = common.bench_rows("train", steps * p.batch_size)
    set_seed(p.seed)
    tok = load_tokenizer(params.model)
    model = load_base_model(training_base(params.model, p))
    model.set_attn_implementation(attn)
    args = sft_config(p, tempfile.mkdtemp(prefix="bench-lever-"), params.model)
    if padding_free:  # TRL refuses max_length without packing; no bench row comes near sft.max_length
        args.padding_free, args.max_length = True, None
    trainer = _answer_only_trainer_class()(model=model, args=args, train_dataset=_dataset(rows, SFT_COLUMNS),
                                           processing_class=tok, peft_config=lora_config(p.lora))
    timer = common.step_timer()
    trainer.add_callback(timer)
    batches = common.record_batches(trainer)
    trainer.train()
    durations = timer.durations()
    seconds = sum(durations[1:])
    tokens = sum(sum(b["seq_lens"]) for b in batches[1:len(durations)])
    padded = sum(b["padded"][0] * b["padded"][1] for b in batches[1:len(durations)])
    return {"seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1), "tokens": tokens,
            "padded_tokens": padded, "final_loss": trainer.state.log_history[-2].get("loss")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gen-rows", type=int, default=64)
    ap.add_argument("--sft-steps", type=int, default=4)
    ap.add_argument("--gen-batches", default="8,16,32,64", help="generation batch sizes (16 is the reference)")
    ap.add_argument("--skip-threads", action="store_true", help="skip the 1-thread generation variant")
    ap.add_argument("--skip-eager", action="store_true", help="skip the eager-attention variants")
    ap.add_argument("--model", default=None)
    ap.add_argument("--only", choices=["gen", "sft"], default=None)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--batch-size", type=int, default=16, help=argparse.SUPPRESS)
    ap.add_argument("--attn", default="sdpa", help=argparse.SUPPRESS)
    ap.add_argument("--padding-free", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    model = args.model or default_model()
    if args.worker == "gen":
        common.emit(gen_worker(args.gen_rows, model, args.batch_size, args.attn))
        return
    if args.worker == "sft":
        common.emit(sft_worker(args.sft_steps, args.attn, args.padding_free))
        return
    me = Path(__file__)
    gen = ["--worker", "gen", "--gen-rows", str(args.gen_rows), "--model", model]
    sft = ["--worker", "sft", "--sft-steps", str(args.sft_steps)]
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}

    def lever(label: str, unit: str, key: str, ours: dict[str, Any], ref: dict[str, Any]) -> None:
        rows.append({"label": label, "ours": ours[key], "reference": ref[key],
                     "ratio": common.ratio(ours[key], ref[key]), "unit": unit})

    if args.only in (None, "gen"):
        sizes = sorted({16, *(int(b) for b in args.gen_batches.split(","))})
        for bs in sizes:
            raw[f"gen_batch_{bs}"] = common.spawn(me, *gen, "--batch-size", str(bs))
        for bs in (b for b in sizes if b != 16):
            lever(f"generation batch {bs} vs 16", "tokens/s", "tokens_per_s", raw[f"gen_batch_{bs}"],
                  raw["gen_batch_16"])
        if not args.skip_eager:
            raw["gen_eager"] = common.spawn(me, *gen, "--attn", "eager")
            lever("generation eager vs SDPA attention (batch 16)", "tokens/s", "tokens_per_s", raw["gen_eager"],
                  raw["gen_batch_16"])
        if not args.skip_threads:
            threads = os.environ.get("BENCH_THREADS", str(common.threads()))
            os.environ["BENCH_THREADS"] = "1"
            raw["gen_1_thread"] = common.spawn(me, *gen)
            os.environ["BENCH_THREADS"] = threads
            lever(f"generation 1 vs {threads} torch threads (batch 16)", "tokens/s", "tokens_per_s",
                  raw["gen_1_thread"], raw["gen_batch_16"])
    if args.only in (None, "sft"):
        raw["sft_sdpa"] = common.spawn(me, *sft)
        raw["sft_padding_free"] = common.spawn(me, *sft, "--padding-free")
        if not args.skip_eager:
            raw["sft_eager"] = common.spawn(me, *sft, "--attn", "eager")
            lever("SFT eager vs SDPA attention", "tokens/s", "tokens_per_s", raw["sft_eager"], raw["sft_sdpa"])
        lever("SFT padding-free vs padded (length-grouped) batches", "tokens/s", "tokens_per_s",
              raw["sft_padding_free"], raw["sft_sdpa"])
    notes = (f"generation: {args.gen_rows} test rows, model `{model}`; SFT: {args.sft_steps} steps of our trainer "
             "(first untimed) on the same train rows. Ratio = variant / reference configuration.")
    common.write_figure("levers" + (f"-{args.only}" if args.only else ""), rows, raw=raw, notes=notes)
    print(common.RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
