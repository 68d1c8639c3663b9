"""The pipeline's stages as functions of (params, workspace root): ``stages/*.py`` only parse
arguments and call these. Paths of every artefact live here, in one place, matching ``dvc.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsontune import data as data_mod
from jsontune.config import Params, ParamsError
from jsontune.launch import is_main_process, share_from_main
from jsontune.tasks import Task, load_task, save_model_task

SPLIT_FILE = "data/{split}.jsonl"
DATA_CARD = "metrics/data.json"
PREDICTIONS = "predictions/{stage}.jsonl"
STAGE_METRICS = "metrics/{stage}.json"
ADAPTER = "runs/{stage}/adapter"
TRAIN_LOG = "metrics/{stage}_train.json"
LIVE_DIR = "dvclive/{stage}"
VAL_METRICS = "metrics/val.json"
MERGED_DIR = "runs/merged"
REPORT = "reports/eval.md"
STAGE_PLOT = "reports/stages.json"
# Outside every DVC out: DVC deletes a stage's outs before rerunning it (see jsontune/checkpoints.py).
CHECKPOINTS = "runs/checkpoints"
FIGURES = "reports/figures"
LOSS_CURVES = "dvclive/{stage}/plots/metrics"
EVALUATED = ("baseline", "sft", "dpo", "merged")


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_split(root: Path, split: str) -> list[dict[str, Any]]:
    return data_mod.read_jsonl(root / SPLIT_FILE.format(split=split))


def run_dataset(params: Params, root: Path) -> dict[str, Any]:
    """Generate or read the examples, split them, write chat-formatted splits and the data card."""
    task = load_task(params.task.name, params.task.system_prompt)
    d = params.dataset
    splits, counts = data_mod.build_splits(d.source, task, d.n_examples, d.val_fraction, d.test_fraction, d.seed,
                                           d.train_examples)
    for split, rows in splits.items():
        data_mod.write_jsonl(root / SPLIT_FILE.format(split=split),
                             (data_mod.to_chat_row(e, task.schema, task.system_prompt) for e in rows))
    card = data_mod.data_card(splits, task.schema, **counts)
    _write_json(root / DATA_CARD, card)
    return card


def _tokenizer_and_task(params: Params) -> tuple[Any, Task]:
    """Resolved once per stage: the task gives the schema, the prompt and its own extra sets."""
    from jsontune.models import load_tokenizer

    return load_tokenizer(params.model), load_task(params.task.name, params.task.system_prompt)


def _evaluate(params: Params, rows: list[dict[str, Any]], stage: str, model: Any, tok: Any,
              schema: dict[str, Any], split: str = "test") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from jsontune.evaluation import evaluate_rows

    return evaluate_rows(model, tok, rows, schema, params.generation, desc=f"{stage} on {split}")


def extra_set_paths(params: Params, root: Path, task: Task) -> list[Path]:
    """The task folder's ``extra/*.jsonl`` then ``eval.extra_sets``; sets are named by file, so two may
    not share a name."""
    paths = [*task.extra_sets, *(root / p for p in params.eval.extra_sets)]
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise data_mod.DataError(f"eval.extra_sets: {path} and {seen[path.stem]} have the same name "
                                     f"{path.stem!r} (sets are named by file); rename one")
        if not path.is_file():
            raise data_mod.DataError(f"{path}: file not found (listed in eval.extra_sets)")
        seen[path.stem] = path
    return paths


def _extra_sets(params: Params, root: Path, task: Task) -> dict[str, list[dict[str, Any]]]:
    from jsontune.evaluation import read_extra_set, set_name

    # Prompted exactly like the splits.
    return {set_name(p): read_extra_set(p, task.schema, task.system_prompt)
            for p in extra_set_paths(params, root, task)}


def _score_stage(params: Params, root: Path, stage: str, model: Any, tok: Any, schema: dict[str, Any],
                 rows: list[dict[str, Any]], extra: dict[str, list[dict[str, Any]]], free: Any = None
                 ) -> dict[str, Any]:
    """Test split in every ``eval.decoding`` mode plus the external sets; writes the stage's predictions
    (free answers, other modes nested per row) and metrics."""
    from jsontune.evaluation import evaluate_extra_sets, evaluate_modes

    predictions, metrics = evaluate_modes(model, tok, rows, schema, params.generation, params.eval,
                                          desc=f"{stage} on test", free=free)
    if extra:
        metrics["extra_sets"] = evaluate_extra_sets(model, tok, extra, schema, params.generation, params.eval, stage)
    merged_rows = []
    for i, row in enumerate(predictions["free"]):
        nested = {mode: {k: v for k, v in preds[i].items() if k not in ("text", "expected")}
                  for mode, preds in predictions.items() if mode != "free"}
        merged_rows.append({**row, **nested})
    data_mod.write_jsonl(root / PREDICTIONS.format(stage=stage), merged_rows)
    _write_json(root / STAGE_METRICS.format(stage=stage), metrics)
    return metrics


def run_baseline(params: Params, root: Path) -> dict[str, Any]:
    """The untouched base model, prompted exactly like the fine-tuned ones will be."""
    from jsontune.models import load_for_inference

    tok, task = _tokenizer_and_task(params)
    schema, extra = task.schema, _extra_sets(params, root, task)
    model = load_for_inference(params.model)
    return _score_stage(params, root, "baseline", model, tok, schema, load_split(root, "test"), extra)


def _model_files(params: Params) -> Path | None:
    """The local base checkpoint (part of a checkpoint key: rebuilding it must not resume an old run)."""
    path = Path(params.model.name)
    return path if path.is_dir() else None


def run_sft(params: Params, root: Path) -> dict[str, Any]:
    """LoRA SFT; resumes from the last checkpoint of an interrupted run with the same params and data."""
    from transformers import set_seed

    from jsontune import checkpoints
    from jsontune.models import load_base_model, load_tokenizer
    from jsontune.training import train_sft, training_base, write_train_log

    set_seed(params.sft.seed)
    tok = load_tokenizer(params.model)
    train_file = root / SPLIT_FILE.format(split="train")
    ckpt = checkpoints.run_dir(root / CHECKPOINTS, "sft", params.sft, params.model, _model_files(params),
                               train_file)
    base = load_base_model(training_base(params.model, params.sft))
    result = train_sft(base, tok, load_split(root, "train"), params.sft, params.model,
                       root / ADAPTER.format(stage="sft"), live_dir=root / LIVE_DIR.format(stage="sft"),
                       checkpoint_dir=ckpt)
    if is_main_process():
        checkpoints.clear(root / CHECKPOINTS, "sft")
    summary = {"train_loss": result["train"]["train_loss"], "train_runtime": result["train"]["train_runtime"],
               "steps": result["log"][-1].get("step"), "resumed_from_step": result["resumed_from_step"],
               "num_processes": result["num_processes"], "bf16": result["bf16"]}
    if is_main_process():
        write_train_log(root / TRAIN_LOG.format(stage="sft"), summary)
    return summary


def run_dpo(params: Params, root: Path) -> dict[str, Any]:
    """Pairs from hard negatives plus the SFT policy's own misses, then DPO from the SFT adapter."""
    from transformers import set_seed

    from jsontune import checkpoints
    from jsontune.generation import generate
    from jsontune.models import load_base_model, load_for_inference
    from jsontune.preferences import build_pairs, pick_prompts
    from jsontune.training import train_dpo, training_base, write_train_log

    p = params.dpo
    tok, task = _tokenizer_and_task(params)
    sft_adapter = root / ADAPTER.format(stage="sft")
    rows = pick_prompts(load_split(root, "train"), p.n_prompts, p.seed)
    on_policy = None
    if p.on_policy and is_main_process():
        # A separate model instance: a no-grad pass on a 4-bit model repacks its weights on CPU, which
        # would corrupt gradients if the same instance were trained afterwards.
        sampler = load_for_inference(params.model, sft_adapter)
        on_policy = generate(sampler, tok, [r["prompt"] for r in rows], batch_size=params.generation.batch_size,
                             max_new_tokens=params.generation.max_new_tokens, do_sample=True,
                             temperature=p.on_policy_temperature, seed=p.seed, desc="on-policy samples")
        del sampler
    # Under accelerate the main process samples and builds the pairs; every rank trains on that same set.
    pairs, kinds = share_from_main(
        build_pairs(rows, task.schema, p.hard_negatives_per_prompt, p.seed, on_policy,
                    confusable=task.confusable) if is_main_process() else None)
    if not pairs:
        raise ParamsError(f"no DPO pairs from {len(rows)} prompts (dpo.n_prompts): dpo.hard_negatives_per_prompt is "
                          f"{p.hard_negatives_per_prompt} and no on-policy sample missed; raise "
                          "dpo.hard_negatives_per_prompt")
    set_seed(p.seed)
    ckpt = checkpoints.run_dir(root / CHECKPOINTS, "dpo", p, params.model, _model_files(params), sft_adapter, pairs)
    result = train_dpo(load_base_model(training_base(params.model, p)), tok, pairs, p, params.model, sft_adapter,
                       root / ADAPTER.format(stage="dpo"), live_dir=root / LIVE_DIR.format(stage="dpo"),
                       checkpoint_dir=ckpt)
    if is_main_process():
        checkpoints.clear(root / CHECKPOINTS, "dpo")
    last = [e for e in result["log"] if "rewards/accuracies" in e]
    summary = {"pairs": len(pairs), "pair_kinds": kinds, "train_loss": result["train"]["train_loss"],
               "train_runtime": result["train"]["train_runtime"], "steps": result["log"][-1].get("step"),
               "resumed_from_step": result["resumed_from_step"],
               "final_reward_accuracy": last[-1]["rewards/accuracies"] if last else None,
               "final_reward_margin": last[-1].get("rewards/margins") if last else None,
               "num_processes": result["num_processes"], "bf16": result["bf16"]}
    if is_main_process():
        write_train_log(root / TRAIN_LOG.format(stage="dpo"), summary)
    return summary


def run_eval(params: Params, root: Path) -> dict[str, Any]:
    """Both adapters on test and the external sets (reported) and on val (used only to pick the adapter to merge)."""
    from jsontune.models import load_for_inference

    tok, task = _tokenizer_and_task(params)
    schema, extra = task.schema, _extra_sets(params, root, task)
    stages: dict[str, Any] = {}
    val: dict[str, Any] = {}
    test_rows, val_rows = load_split(root, "test"), load_split(root, "val")
    for stage in ("sft", "dpo"):
        model = load_for_inference(params.model, root / ADAPTER.format(stage=stage))
        stages[stage] = _score_stage(params, root, stage, model, tok, schema, test_rows, extra)
        if val_rows:
            val[stage] = _evaluate(params, val_rows, stage, model, tok, schema, split="val")[1]
        del model
    _write_json(root / VAL_METRICS, val)
    return stages


def run_report(params: Params, root: Path) -> dict[str, Any]:
    """The reviewer's page (reports/eval.md), its PNG charts and the data behind `dvc plots`; no model."""
    from jsontune.charts import write_charts
    from jsontune.report import eval_markdown, stage_plot_rows

    schema = load_task(params.task.name).schema
    stages = {s: _read_json(root / STAGE_METRICS.format(stage=s)) for s in EVALUATED}
    examples = {s: data_mod.read_jsonl(root / PREDICTIONS.format(stage=s)) for s in EVALUATED}
    curves = {s: root / LOSS_CURVES.format(stage=s) for s in ("sft", "dpo")}
    figures = write_charts(stages, examples, schema, curves, root / FIGURES)
    (root / REPORT).parent.mkdir(parents=True, exist_ok=True)
    text = eval_markdown(stages, examples=examples, schema=schema,
                         figures={k: str(Path(v).relative_to(root / Path(REPORT).parent)) for k, v in figures.items()})
    (root / REPORT).write_text(text, encoding="utf-8")
    _write_json(root / STAGE_PLOT, stage_plot_rows(stages))
    return {"report": REPORT, "figures": sorted(str(Path(v).relative_to(root)) for v in figures.values())}


def choose_adapter(choice: str, val: dict[str, Any]) -> str:
    """``best`` compares the validation split only (never test); ties go to DPO."""
    if choice != "best":
        return choice
    if not val:
        raise ParamsError("merge.adapter is 'best' but there is no validation split (dataset.val_fraction = 0)")

    def key(stage: str) -> tuple[float, float]:
        return val[stage]["exact_match"], val[stage]["schema_validity"]

    return "dpo" if key("dpo") >= key("sft") else "sft"


def run_merge(params: Params, root: Path) -> dict[str, Any]:
    """Merge the chosen adapter into full-precision weights and check it answers like the adapter."""
    from jsontune.generation import generate, run_generation
    from jsontune.models import ModelError, load_for_inference, merge_adapter

    tok, task = _tokenizer_and_task(params)
    schema, extra = task.schema, _extra_sets(params, root, task)
    chosen = choose_adapter(params.merge.adapter, _read_json(root / VAL_METRICS))
    adapter = root / ADAPTER.format(stage=chosen)
    rows = load_split(root, "test")
    gen = params.generation
    if params.model.quantization == "none":
        reference = [p["raw"] for p in data_mod.read_jsonl(root / PREDICTIONS.format(stage=chosen))]
    else:
        # The adapter was evaluated over 4-bit weights; compare like with like, in full precision.
        from dataclasses import replace

        fp = load_for_inference(replace(params.model, quantization="none"), adapter)
        reference = generate(fp, tok, [r["prompt"] for r in rows], batch_size=gen.batch_size,
                             max_new_tokens=gen.max_new_tokens, desc="adapter (full precision)")
        del fp
    merged = merge_adapter(params.model, adapter, root / MERGED_DIR, tok)
    save_model_task(task, gen.max_new_tokens, root / MERGED_DIR)
    free = run_generation(merged, tok, [r["prompt"] for r in rows], batch_size=gen.batch_size,
                          max_new_tokens=gen.max_new_tokens, desc="merged on test (free)")
    agreement = sum(a == b for a, b in zip(free.texts, reference, strict=True)) / len(rows)
    metrics = _score_stage(params, root, "merged", merged, tok, schema, rows, extra, free=free)
    result = {"adapter": chosen, "agreement": round(agreement, 4), **metrics}
    _write_json(root / STAGE_METRICS.format(stage="merged"), result)
    if agreement < params.merge.min_agreement:
        raise ModelError(f"merged model agrees with the {chosen} adapter on only {agreement:.1%} of the test "
                         f"split (merge.min_agreement = {params.merge.min_agreement:.0%})")
    return result
