"""Eval throughput: our batched generator (``jsontune.generation.generate``) vs a one-example-at-a-time
``generate`` loop, and constrained vs free decoding.

    python bench/bench_eval.py [--n 32] [--model runs/merged]

The model defaults to the fine-tuned ``runs/merged`` checkpoint when it exists (its answers are short
JSON that ends at end-of-turn, like the evaluated models'), else the embedded base model (whose prose
answers run to ``generation.max_new_tokens``). All variants answer the same first ``n`` test rows with
greedy decoding; a one-row warm-up precedes each timing. Generated tokens are counted by
re-tokenising each decoded answer, the same way for every variant.

Free, constrained and free-without-the-shared-prefix-cache batched decoding run in one process,
alternating, ``--repeats`` times each, and the median of each is compared: separate processes
measured minutes apart differed by up to 20% on this machine, more than the effect being measured.
The sequential loop runs once (it is the slow one).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import common


def default_model() -> str:
    merged = common.REPO / "runs" / "merged"
    return str(merged) if (merged / "config.json").is_file() else "models/SmolLM2-135M-Instruct"


EQUAL_LENGTH = 0.05
"""How far apart (share of the free answers' tokens) the two decodings' answer lengths may be for a verdict."""


def constrained_target(free: dict[str, Any], constrained: dict[str, Any],
                       tolerance: float = EQUAL_LENGTH) -> dict[str, Any]:
    """The "constrained costs ≤ 10 %" verdict, given only when both decodings did the same work: answers
    of (nearly) the same total length. The base model's free answers are prose to ``max_new_tokens`` and
    its constrained ones short JSON, so their throughputs compare different work and no verdict is given."""
    ratio = common.ratio(constrained["examples_per_s"], free["examples_per_s"])
    f, c = free["generated_tokens"], constrained["generated_tokens"]
    comparable = f > 0 and abs(c - f) <= tolerance * f
    return {"target": "constrained decoding costs ≤ 10 % of free throughput (examples/s, answers of equal length)",
            "measured": ratio, "met": bool(ratio and ratio >= 0.9) if comparable else None}


def _timed(fn: Any) -> tuple[float, list[str]]:
    start = time.perf_counter()
    raws = fn()
    return time.perf_counter() - start, raws


def worker(variant: str, n: int, model_name: str, batch_size: int | None, repeats: int) -> dict[str, Any]:
    """``sequential``: one timed pass of the one-row loop. ``batched``: free, constrained and free without
    the prefix cache alternately, ``repeats`` passes each, reported as medians."""
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
    free: dict[str, Any] = {"max_new_tokens": gen.max_new_tokens}
    constrained = {**free, "decoding": "constrained", "schema": load_task(params.task.name).schema}

    def record(name: str, seconds: list[float], raws: list[str], rows_bs: int) -> dict[str, Any]:
        tokens = sum(len(tok(r, add_special_tokens=False)["input_ids"]) for r in raws)
        sec = statistics.median(seconds)
        return {"variant": name, "model": model_name, "examples": n, "batch_size": rows_bs,
                "seconds": round(sec, 2), "all_seconds": [round(x, 2) for x in seconds], "generated_tokens": tokens,
                "tokens_per_s": round(tokens / sec, 1), "examples_per_s": round(n / sec, 3), "sample": raws[0][:120]}

    generate(model, tok, convs[:1], batch_size=1, **free)  # warm-up
    if variant == "sequential":
        sec, raws = _timed(lambda: [generate(model, tok, [c], batch_size=1, share_prefix=False, **free)[0]
                                    for c in convs])
        return {"sequential": record("sequential", [sec], raws, 1)}
    generate(model, tok, convs[:1], batch_size=1, **constrained)  # warm-up, and the grammar is compiled once
    variants = (("batched", free), ("constrained", constrained),
                ("no_shared_prefix", {**free, "share_prefix": False}))
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    outputs: dict[str, list[str]] = {}
    for _ in range(repeats):
        for name, kwargs in variants:
            sec, outputs[name] = _timed(lambda kw=kwargs: generate(model, tok, convs, batch_size=bs, **kw))
            times[name].append(sec)
    result = {name: record(name, times[name], outputs[name], bs) for name in times}
    result["no_shared_prefix"]["same_answers_as_batched"] = sum(
        a == b for a, b in zip(outputs["no_shared_prefix"], outputs["batched"], strict=True))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32, help="test rows per variant")
    ap.add_argument("--model", default=None, help="checkpoint dir (default: runs/merged if present, else the base)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: generation.batch_size")
    ap.add_argument("--repeats", type=int, default=3, help="alternating passes of each batched variant (median)")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    model = args.model or default_model()
    if args.variant:
        common.emit(worker(args.variant, args.n, model, args.batch_size, args.repeats))
        return
    me = Path(__file__)
    extra = ["--n", str(args.n), "--model", model, "--repeats", str(args.repeats)]
    extra += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    both = common.spawn(me, "--variant", "batched", *extra)
    batched, constrained, unshared = both["batched"], both["constrained"], both["no_shared_prefix"]
    sequential = common.spawn(me, "--variant", "sequential", *extra)["sequential"]
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
    cost = constrained_target(batched, constrained)
    targets.append(cost)
    rows.append({"label": "constrained vs free decoding tokens/s (batched)", "ours": constrained["tokens_per_s"],
                 "reference": batched["tokens_per_s"],
                 "ratio": common.ratio(constrained["tokens_per_s"], batched["tokens_per_s"]), "unit": "tokens/s"})
    rows.append({"label": "constrained vs free decoding examples/s (batched)", "ours": constrained["examples_per_s"],
                 "reference": batched["examples_per_s"], "ratio": cost["measured"], "unit": "examples/s"})
    rows.append({"label": "batched decoding, shared prompt prefix cached once vs every prompt in full (left padding)",
                 "ours": batched["tokens_per_s"], "reference": unshared["tokens_per_s"],
                 "ratio": common.ratio(batched["tokens_per_s"], unshared["tokens_per_s"]), "unit": "tokens/s"})
    notes = (f"{args.n} test rows, model `{model}`, greedy, max_new_tokens from params.yaml; the sequential loop "
             "calls the same generate() with one conversation at a time (no padding, no prefix cache), once; "
             "free, constrained and free-without-the-shared-prefix-cache batched decoding alternate in one "
             f"process, {args.repeats} passes each, medians compared; with and without the prefix cache the answers "
             f"were identical on {unshared['same_answers_as_batched']}/{args.n} rows; generated tokens free "
             f"{batched['generated_tokens']}, constrained {constrained['generated_tokens']} (the constrained-cost "
             f"verdict needs them within {EQUAL_LENGTH:.0%}: run after `make train`, which builds runs/merged).")
    common.write_figure("eval", rows, raw={"batched": batched, "sequential": sequential, "constrained": constrained,
                                           "no_shared_prefix": unshared},
                        targets=targets, notes=notes)
    print(common.RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
