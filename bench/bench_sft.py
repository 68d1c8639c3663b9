"""SFT throughput: our SFT configuration vs TRL 1.16 ``SFTTrainer`` with its defaults, and vs the
machine's fp32 matmul peak, all measured in this one run.

    python bench/bench_sft.py [--steps 6] [--trl-steps 2] [--ours-bf16]

Both variants train the same rows (the first ``steps * sft.batch_size`` train rows, one epoch = exactly
``steps`` optimizer steps) of the embedded model with the same LoRA config from ``params.yaml``.
*Ours* is ``jsontune.training.sft_trainer`` with the ``sft`` params. *TRL defaults* is
``SFTTrainer(model, SFTConfig(use_cpu=True, per_device_train_batch_size=sft.batch_size))`` with the
same ``peft_config``: bf16 autocast, activation checkpointing, random batches, the LM head over every
position. On CPUs without native bf16 a TRL-defaults step takes minutes, so it runs ``--trl-steps``
steps, and a third variant, TRL defaults with ``bf16=False``, separates the bf16 effect from the rest.
``--ours-bf16`` adds our configuration with ``sft.bf16=true`` (only worth it on CPUs with native bf16).
The first step of each variant is a warm-up and is not timed.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import common


def worker(variant: str, steps: int, rows_steps: int) -> dict[str, Any]:
    common.set_threads()
    if variant == "peak":
        return {"gflops": round(common.matmul_peak_gflops(), 1)}
    from transformers import set_seed

    from jsontune.config import load_params
    from jsontune.models import load_base_model, load_tokenizer
    from jsontune.training import lora_config, sft_trainer

    params = load_params(common.REPO / "params.yaml")
    p = replace(params.sft, epochs=1.0)
    rows = common.bench_rows("train", rows_steps * p.batch_size)
    set_seed(p.seed)
    tok = load_tokenizer(params.model)
    model = load_base_model(params.model)
    out = tempfile.mkdtemp(prefix="bench-sft-")
    if variant in ("ours", "ours-bf16"):
        trainer = sft_trainer(model, tok, rows, replace(p, bf16=variant == "ours-bf16"), params.model, out)
    elif variant in ("trl", "trl-fp32"):
        from trl import SFTConfig, SFTTrainer

        from jsontune.training import SFT_COLUMNS, _dataset

        fp32 = {"bf16": False} if variant == "trl-fp32" else {}
        args = SFTConfig(output_dir=out, use_cpu=True, per_device_train_batch_size=p.batch_size,
                         num_train_epochs=1, save_strategy="no", report_to=[], logging_steps=1, seed=p.seed,
                         max_steps=steps, **fp32)
        trainer = SFTTrainer(model=model, args=args, train_dataset=_dataset(rows, SFT_COLUMNS),
                             processing_class=tok, peft_config=lora_config(p.lora))
    else:
        raise ValueError(f"unknown variant {variant}")
    timer = common.step_timer()
    trainer.add_callback(timer)
    batches = common.record_batches(trainer)
    trainer.train()
    shape = common.model_shape(trainer.model)
    durations = timer.durations()
    timed = range(1, len(durations))
    seconds = sum(durations[i] for i in timed)
    flops = [common.lora_train_flops(shape, batches[i]["seq_lens"], batches[i]["answer_tokens"]) for i in timed]
    tokens = sum(f["tokens"] for f in flops)
    answer = sum(f["answer_tokens"] for f in flops)
    padded = sum(batches[i]["padded"][0] * batches[i]["padded"][1] for i in timed)
    total = sum(f["total"] for f in flops)
    a = trainer.args
    return {"variant": variant, "steps": len(durations), "timed_steps": len(timed), "seconds": round(seconds, 2),
            "step_seconds": [round(d, 2) for d in durations], "tokens": tokens, "answer_tokens": answer,
            "padded_tokens": padded, "tokens_per_s": round(tokens / seconds, 1),
            "answer_tokens_per_s": round(answer / seconds, 2), "gflops": round(total / seconds / 1e9, 2),
            "model_flops_per_step": [f["total"] for f in flops], "shape": shape.__dict__,
            "config": {"bf16": a.bf16, "activation_checkpointing": a.gradient_checkpointing,
                       "batch_size": a.per_device_train_batch_size, "train_sampling_strategy":
                       getattr(a, "train_sampling_strategy", None), "trainer": type(trainer).__name__}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per variant (the first is warm-up)")
    ap.add_argument("--trl-steps", type=int, default=2,
                    help="steps of TRL defaults (bf16 is emulated, so very slow, on CPUs without AVX512-BF16); "
                         "0 skips them")
    ap.add_argument("--ours-bf16", action="store_true",
                    help="also run our configuration with sft.bf16=true (a lever on CPUs with AVX512-BF16/AMX)")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--rows-steps", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        common.emit(worker(args.variant, args.steps, args.rows_steps or args.steps))
        return
    me = Path(__file__)
    peak_before = common.spawn(me, "--variant", "peak")["gflops"]
    same_rows = ["--rows-steps", str(args.steps)]
    ours = common.spawn(me, "--variant", "ours", "--steps", str(args.steps))
    trl32 = common.spawn(me, "--variant", "trl-fp32", "--steps", str(args.steps), *same_rows)
    skipped = {"tokens_per_s": None, "answer_tokens_per_s": None, "gflops": None, "peak_rss_mb": None,
               "skipped": "--trl-steps 0"}
    if args.trl_steps:
        trl = common.spawn(me, "--variant", "trl", "--steps", str(args.trl_steps), *same_rows)
    else:
        trl = skipped
    ours16 = common.spawn(me, "--variant", "ours-bf16", "--steps", str(args.steps)) if args.ours_bf16 else None
    peak_after = common.spawn(me, "--variant", "peak")["gflops"]
    peak = max(peak_before, peak_after)
    speedup = common.ratio(ours["tokens_per_s"], trl["tokens_per_s"])
    frac_ours = round(ours["gflops"] / peak, 3)
    frac_trl = round(trl["gflops"] / peak, 3) if trl["gflops"] else None
    rows = [
        {"label": "SFT trained tokens/s (ours vs TRL defaults)", "ours": ours["tokens_per_s"],
         "reference": trl["tokens_per_s"], "ratio": speedup, "unit": "real (non-pad) tokens/s"},
        {"label": "SFT trained tokens/s (ours vs TRL defaults but fp32)", "ours": ours["tokens_per_s"],
         "reference": trl32["tokens_per_s"], "ratio": common.ratio(ours["tokens_per_s"], trl32["tokens_per_s"]),
         "unit": "real (non-pad) tokens/s"},
        {"label": "SFT answer (loss) tokens/s", "ours": ours["answer_tokens_per_s"],
         "reference": trl["answer_tokens_per_s"], "ratio": common.ratio(ours["answer_tokens_per_s"],
                                                                       trl["answer_tokens_per_s"]), "unit": "tokens/s"},
        {"label": "SFT achieved model GFLOP/s", "ours": ours["gflops"], "reference": trl["gflops"],
         "ratio": common.ratio(ours["gflops"], trl["gflops"]), "unit": "GFLOP/s"},
        {"label": "SFT fraction of fp32 matmul peak (2048², same script)", "ours": frac_ours, "reference": frac_trl,
         "ratio": None, "unit": f"of {peak:.0f} GFLOP/s"},
        {"label": "SFT fraction of fp32 matmul peak, TRL defaults but fp32", "ours": frac_ours,
         "reference": round(trl32["gflops"] / peak, 3), "ratio": None, "unit": f"of {peak:.0f} GFLOP/s"},
        *([{"label": "SFT trained tokens/s (ours with sft.bf16=true vs TRL defaults)",
             "ours": ours16["tokens_per_s"], "reference": trl["tokens_per_s"],
             "ratio": common.ratio(ours16["tokens_per_s"], trl["tokens_per_s"]), "unit": "real (non-pad) tokens/s"},
            {"label": "SFT trained tokens/s (ours with sft.bf16=true vs ours fp32)", "ours": ours16["tokens_per_s"],
             "reference": ours["tokens_per_s"], "ratio": common.ratio(ours16["tokens_per_s"], ours["tokens_per_s"]),
             "unit": "real (non-pad) tokens/s"}] if ours16 else []),
        {"label": "SFT peak RSS", "ours": ours["peak_rss_mb"], "reference": trl["peak_rss_mb"],
         "ratio": common.ratio(ours["peak_rss_mb"], trl["peak_rss_mb"]), "unit": "MB"},
    ]
    targets = [
        {"target": "SFT ≥ 2× TRL-defaults throughput", "measured": speedup,
         "met": bool(speedup and speedup >= 2) if speedup else None},
        {"target": "SFT ≥ 40 % of measured fp32 matmul peak", "measured": frac_ours, "met": frac_ours >= 0.4},
    ]
    notes = (f"Ours and 'TRL defaults but fp32' (SFTConfig bf16=False, everything else default) run {args.steps} "
             f"steps on the same {args.steps * ours['config']['batch_size']} train rows; TRL defaults run the "
             f"first {args.trl_steps} of those steps (on CPUs without native bf16 a step takes "
             "minutes); first step of each untimed. Model FLOPs = forward 2·N_linear·T + 2·N_lora·T + causal attention "
             "4·L·d_attn·Σn(n+1)/2 + LM head 2·d·V·A; backward 2·N_linear·T (input grads only, base frozen) + "
             "4·N_lora·T + 2× attention + 2·d·V·A (T = real tokens, A = answer tokens); counted the same for both "
             "variants, so checkpointing recomputation and full-vocab projection of prompt positions are not "
             "credited. TRL defaults run bf16 autocast, so their peak fraction is also against the fp32 peak. "
             f"Matmul peak before/after: {peak_before}/{peak_after} GFLOP/s.")
    raw = {"ours": ours, "trl_defaults": trl, "trl_fp32": trl32, "peak_gflops": [peak_before, peak_after]}
    if ours16:
        raw["ours_bf16"] = ours16
    common.write_figure("sft", rows, raw=raw,
                        targets=targets, notes=notes)
    print(common.RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
