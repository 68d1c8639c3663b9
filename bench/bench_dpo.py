"""DPO throughput: pairs/s of our DPO configuration vs TRL 1.16 ``DPOTrainer`` with its defaults.

    python bench/bench_dpo.py [--steps 3] [--trl-steps 1]

Both variants start from the same (freshly initialised, untrained: throughput does not depend on
the weights) LoRA adapter with the ``sft.lora`` config, on the same ``steps * dpo.batch_size``
preference pairs (gold answer vs hard negatives of train rows), reference = frozen copy of the
adapter. *Ours* is ``jsontune.training.dpo_trainer`` with the ``dpo`` params in fp32 (what ``bf16: auto``
gives on a CPU without native bf16; no activation checkpointing, LM head only at answer positions, NLL
term if ``dpo.sft_weight`` > 0). *TRL defaults* is
``DPOTrainer(model, DPOConfig(use_cpu=True, per_device_train_batch_size=dpo.batch_size))``: bf16
autocast, activation checkpointing, sigmoid loss, LM head over every position on CPU; on CPUs without
native bf16 its steps take minutes, so it runs ``--trl-steps`` (default 1) steps, and TRL defaults with
``bf16=False`` is measured too. The first step is a warm-up and is not timed where there are more.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import common


def worker(variant: str, steps: int) -> dict[str, Any]:
    common.set_threads()
    from peft import get_peft_model
    from transformers import set_seed

    from jsontune.config import load_params
    from jsontune.models import load_base_model, load_tokenizer
    from jsontune.preferences import build_pairs
    from jsontune.tasks import load_task
    from jsontune.training import lora_config

    params = load_params(common.REPO / "params.yaml")
    p = replace(params.dpo, epochs=1.0, bf16=False)  # fp32 like bench_sft's *ours*, whatever auto resolves to here
    n_pairs = steps * p.batch_size
    per_prompt = max(1, p.hard_negatives_per_prompt)
    rows = common.bench_rows("train", -(-n_pairs // per_prompt))
    pairs, _ = build_pairs(rows, load_task(params.task.name).schema, per_prompt, p.seed)
    pairs = pairs[:n_pairs]
    tok = load_tokenizer(params.model)
    adapter = Path(tempfile.mkdtemp(prefix="bench-dpo-adapter-"))
    set_seed(p.seed)
    get_peft_model(load_base_model(params.model), lora_config(params.sft.lora)).save_pretrained(adapter)
    out = tempfile.mkdtemp(prefix="bench-dpo-")
    set_seed(p.seed)
    if variant == "ours":
        from jsontune.training import dpo_trainer, training_base

        trainer = dpo_trainer(load_base_model(training_base(params.model, p)), tok, pairs, p, params.model, adapter,
                              out)
    elif variant in ("trl", "trl-fp32"):
        from peft import PeftModel
        from trl import DPOConfig, DPOTrainer

        from jsontune.training import DPO_COLUMNS, _dataset

        model = PeftModel.from_pretrained(load_base_model(params.model), str(adapter), is_trainable=True)
        fp32 = {"bf16": False} if variant == "trl-fp32" else {}
        args = DPOConfig(output_dir=out, use_cpu=True, per_device_train_batch_size=p.batch_size,
                         num_train_epochs=1, save_strategy="no", report_to=[], logging_steps=1, seed=p.seed,
                         max_steps=steps, **fp32)
        trainer = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=_dataset(pairs, DPO_COLUMNS),
                             processing_class=tok)
    else:
        raise ValueError(f"unknown variant {variant}")
    timer = common.step_timer()
    trainer.add_callback(timer)
    trainer.train()
    durations = timer.durations()
    seconds = sum(durations[1:])
    timed_pairs = p.batch_size * (len(durations) - 1)
    a = trainer.args
    return {"variant": variant, "steps": len(durations), "pairs": len(pairs), "timed_pairs": timed_pairs,
            "seconds": round(seconds, 2), "step_seconds": [round(d, 2) for d in durations],
            "pairs_per_s": round(timed_pairs / seconds, 3) if timed_pairs else None,
            "pairs_per_s_all_steps": round(p.batch_size * len(durations) / sum(durations), 3),
            "config": {"bf16": a.bf16, "activation_checkpointing": a.gradient_checkpointing,
                       "batch_size": a.per_device_train_batch_size, "loss_type": a.loss_type}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps per variant (the first is warm-up)")
    ap.add_argument("--trl-steps", type=int, default=1,
                    help="steps of TRL defaults (bf16 is emulated, so very slow, on CPUs without AVX512-BF16); "
                         "with 1 step both sides are compared including their first (warm-up) step; 0 skips them")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        common.emit(worker(args.variant, args.steps))
        return
    me = Path(__file__)
    ours = common.spawn(me, "--variant", "ours", "--steps", str(args.steps))
    trl32 = common.spawn(me, "--variant", "trl-fp32", "--steps", str(args.steps))
    skipped = {"pairs_per_s": None, "pairs_per_s_all_steps": None, "peak_rss_mb": None, "skipped": "--trl-steps 0"}
    trl = common.spawn(me, "--variant", "trl", "--steps", str(args.trl_steps)) if args.trl_steps else skipped
    key = "pairs_per_s" if args.trl_steps > 1 else "pairs_per_s_all_steps"
    basis = "steady state" if args.trl_steps > 1 else "all steps incl. the first"
    rows = [
        {"label": f"DPO pairs/s (ours vs TRL defaults, {basis})", "ours": ours[key], "reference": trl[key],
         "ratio": common.ratio(ours[key], trl[key]), "unit": "pairs/s"},
        {"label": "DPO pairs/s (ours vs TRL defaults but fp32, steady state)", "ours": ours["pairs_per_s"],
         "reference": trl32["pairs_per_s"], "ratio": common.ratio(ours["pairs_per_s"], trl32["pairs_per_s"]),
         "unit": "pairs/s"},
        {"label": "DPO peak RSS", "ours": ours["peak_rss_mb"], "reference": trl["peak_rss_mb"],
         "ratio": common.ratio(ours["peak_rss_mb"], trl["peak_rss_mb"]), "unit": "MB"},
    ]
    notes = (f"Ours and TRL-fp32 (DPOConfig bf16=False, rest default): {args.steps} steps of "
             f"{ours['config']['batch_size']} pairs on the same pairs, first step untimed; TRL defaults: the first "
             f"{args.trl_steps} step(s) of those pairs (bf16 without hardware support: minutes per step). "
             f"Ours uses loss {ours['config']['loss_type']} (the NLL term is part of our configuration).")
    common.write_figure("dpo", rows, raw={"ours": ours, "trl_defaults": trl, "trl_fp32": trl32}, notes=notes)
    print(common.RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
