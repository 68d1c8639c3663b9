"""Eval throughput: our batched generator (``jsontune.generation.generate``) vs a one-example-at-a-time
``generate`` loop, and constrained vs free decoding.

    python bench/bench_eval.py [--n 32] [--model runs/merged]

The model defaults to the fine-tuned ``runs/merged`` checkpoint when it exists (its answers are short
JSON that ends at end-of-turn, like the evaluated models'), else the embedded base model (whose prose
answers run to ``generation.max_new_tokens``). All variants answer the same first ``n`` test rows with
greedy decoding; a one-row warm-up precedes each timing. Generated tokens are counted by
re-tokenising each decoded answer, the same way for every variant.
"""

from __future__ import annotations

import argparse
import inspect
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import common


def default_model() -> str:
    merged = common.REPO / "runs" / "merged"
    return str(merged) if (merged / "config.json").is_file() else "models/SmolLM2-135M-Instruct"


def worker(variant: str, n: int, model_name: str, batch_size: int | None) -> dict[str, Any]:
    common.set_threads()
    from jsontune.config import load_params
    from jsontune.generation import generate
    from jsontune.models import load_for_inference, load_tokenizer
    from jsontune.tasks import load_task

    params = load_params(common.REPO / "params.yaml")
    mp = replace(params.model, name=model_name)
    gen = params.generation
    bs = batch_size or gen.batch_size
    tok = load_tokenizer(mp)
    model = load_for_inference(mp)
    convs = [r["prompt"] for r in common.bench_rows("test", n)]
    kwargs: dict[str, Any] = {"max_new_tokens": gen.max_new_tokens}
    if variant == "constrained":
        sig = inspect.signature(generate).parameters
        if "decoding" not in sig:
            return {"variant": variant, "unavailable": "jsontune.generation.generate has no `decoding` parameter "
                    "on this branch (constrained decoding is issue 5)"}
        kwargs["decoding"] = "constrained"
        if "schema" in sig:
            kwargs["schema"] = load_task(params.task.name).schema
    generate(model, tok, convs[:1], batch_size=1, **kwargs)  # warm-up
    start = time.perf_counter()
    if variant == "sequential":
        raws = [generate(model, tok, [c], batch_size=1, **kwargs)[0] for c in convs]
    else:
        raws = generate(model, tok, convs, batch_size=bs, **kwargs)
    seconds = time.perf_counter() - start
    tokens = sum(len(tok(r, add_special_tokens=False)["input_ids"]) for r in raws)
    return {"variant": variant, "model": model_name, "examples": n, "batch_size": 1 if variant == "sequential" else bs,
            "seconds": round(seconds, 2), "generated_tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "examples_per_s": round(n / seconds, 3), "sample": raws[0][:120]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32, help="test rows per variant")
    ap.add_argument("--model", default=None, help="checkpoint dir (default: runs/merged if present, else the base)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: generation.batch_size")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    model = args.model or default_model()
    if args.variant:
        common.emit(worker(args.variant, args.n, model, args.batch_size))
        return
    me = Path(__file__)
    extra = ["--n", str(args.n), "--model", model] + (["--batch-size", str(args.batch_size)] if args.batch_size else [])
    batched = common.spawn(me, "--variant", "batched", *extra)
    sequential = common.spawn(me, "--variant", "sequential", *extra)
    constrained = common.spawn(me, "--variant", "constrained", *extra)
    speedup = common.ratio(batched["tokens_per_s"], sequential["tokens_per_s"])
    rows = [
        {"label": f"eval generated tokens/s (batched {batched['batch_size']} vs one at a time)",
         "ours": batched["tokens_per_s"], "reference": sequential["tokens_per_s"], "ratio": speedup,
         "unit": "tokens/s"},
        {"label": "eval examples/s (batched vs one at a time)", "ours": batched["examples_per_s"],
         "reference": sequential["examples_per_s"],
         "ratio": common.ratio(batched["examples_per_s"], sequential["examples_per_s"]), "unit": "examples/s"},
    ]
    targets = [{"target": "batched eval ≥ 5× the sequential loop (tokens/s)", "measured": speedup,
                "met": bool(speedup and speedup >= 5)}]
    if "unavailable" in constrained:
        rows.append({"label": "constrained vs free decoding tokens/s", "ours": "unavailable",
                     "reference": batched["tokens_per_s"], "ratio": None, "unit": "tokens/s"})
        targets.append({"target": "constrained decoding costs ≤ 10 % of free throughput",
                        "measured": "unavailable: " + constrained["unavailable"], "met": None})
    else:
        keep = common.ratio(constrained["tokens_per_s"], batched["tokens_per_s"])
        rows.append({"label": "constrained vs free decoding tokens/s (batched)", "ours": constrained["tokens_per_s"],
                     "reference": batched["tokens_per_s"], "ratio": keep, "unit": "tokens/s"})
        rows.append({"label": "constrained vs free decoding examples/s (batched)",
                     "ours": constrained["examples_per_s"], "reference": batched["examples_per_s"],
                     "ratio": common.ratio(constrained["examples_per_s"], batched["examples_per_s"]),
                     "unit": "examples/s"})
        targets.append({"target": "constrained decoding costs ≤ 10 % of free throughput (examples/s)",
                        "measured": common.ratio(constrained["examples_per_s"], batched["examples_per_s"]),
                        "met": bool(keep and constrained["examples_per_s"] >= 0.9 * batched["examples_per_s"])})
    notes = (f"{args.n} test rows, model `{model}`, greedy, max_new_tokens from params.yaml; the sequential loop "
             "calls the same generate() with one conversation at a time (no padding).")
    common.write_figure("eval", rows, raw={"batched": batched, "sequential": sequential, "constrained": constrained},
                        targets=targets, notes=notes)
    print(common.RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
