"""Scoring a model on a split: generate for every row, then apply the metrics library.

A stage is scored in every decoding mode of ``eval.decoding`` (free first): the free numbers stay the
top-level keys of a stage's metrics file, each other mode is a sub-dict with the same keys, so
``dvc metrics diff`` keeps comparing like with like. External labelled sets (``eval.extra_sets``) are
scored the same way, per set and per ``source``; their labels may be partial.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsontune.config import EvalParams, GenerationParams
from jsontune.data import DataError, parse_object_line, prompt_messages, raise_errors
from jsontune.generation import Generation, run_generation
from jsontune.metrics import aggregate, score_output
from jsontune.schema import field_names, schema_errors

HEADLINE = ("json_validity", "schema_validity", "field_accuracy", "exact_match")


def evaluate_rows(model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]], schema: dict[str, Any],
                  gen: GenerationParams, desc: str = "evaluating") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Predictions (one dict per row, for inspection and diffing) and the aggregate metrics, free decoding."""
    raws = run_generation(model, tokenizer, [r["prompt"] for r in rows], batch_size=gen.batch_size,
                          max_new_tokens=gen.max_new_tokens, desc=desc).texts
    return score_predictions(rows, raws, schema)


def evaluate_modes(model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]], schema: dict[str, Any],
                   gen: GenerationParams, ev: EvalParams, desc: str = "evaluating",
                   free: Generation | None = None) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Predictions per mode and one metrics dict: free at the top level, ``<mode>`` sub-dicts, each
    with its ``speed``, and ``<mode>_minus_free`` accuracy differences.

    ``free`` is an already decoded free run on these rows (the merge stage has one), so it is not
    decoded twice.
    """
    prompts = [r["prompt"] for r in rows]
    if free is None:
        free = run_generation(model, tokenizer, prompts, batch_size=gen.batch_size,
                              max_new_tokens=gen.max_new_tokens, desc=f"{desc} (free)")
    predictions, metrics = score_predictions(rows, free.texts, schema)
    out_predictions = {"free": predictions}
    metrics["speed"] = free.speed()
    for mode in ev.decoding:
        if mode == "free":
            continue
        run = run_generation(model, tokenizer, prompts, batch_size=gen.batch_size,
                             max_new_tokens=gen.max_new_tokens, decoding=mode, schema=schema,
                             reuse=free if ev.reuse_free_answers else None, desc=f"{desc} ({mode})")
        preds, m = score_predictions(rows, run.texts, schema)
        m["speed"] = run.speed()
        metrics[mode] = m
        metrics[f"{mode}_minus_free"] = {k: round(m[k] - metrics[k], 4) for k in HEADLINE}
        out_predictions[mode] = preds
    return out_predictions, metrics


def _complete_gold(gold: dict[str, Any], raw: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Unlabelled fields take the answer's own value so they never count as wrong (nor as right:
    per-field rates only count labelled rows)."""
    names = [n for n in field_names(schema) if n not in gold]
    if not names:
        return gold
    parsed = score_output(raw, gold, schema).parsed or {}
    filled = {**gold, **{n: parsed[n] for n in names if n in parsed}}
    return {n: filled[n] for n in field_names(schema) if n in filled}


def score_predictions(rows: Sequence[dict[str, Any]], raws: Sequence[str], schema: dict[str, Any]
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Prediction rows and aggregate metrics; a gold object may leave fields unlabelled (not scored)."""
    golds = [_complete_gold(row["output"], raw, schema) for row, raw in zip(rows, raws, strict=True)]
    scores = [score_output(raw, gold, schema) for raw, gold in zip(raws, golds, strict=True)]
    predictions = []
    for row, raw, s in zip(rows, raws, scores, strict=True):
        pred = {"text": row["text"], "expected": row["output"], "raw": raw, "json_valid": s.json_valid,
                "schema_valid": s.schema_valid, "exact_match": s.exact_match, "failures": list(s.failures)}
        if "source" in row:
            pred["source"] = row["source"]
        predictions.append(pred)
    metrics = aggregate(scores, schema)
    labelled = {n: [i for i, r in enumerate(rows) if n in r["output"]] for n in field_names(schema)}
    if any(len(idx) < len(rows) for idx in labelled.values()):
        metrics["per_field"] = {n: round(sum(scores[i].fields[n] for i in idx) / len(idx), 4) if idx else None
                                for n, idx in labelled.items()}
        pairs = sum(len(idx) for idx in labelled.values())
        right = sum(scores[i].fields[n] for n, idx in labelled.items() for i in idx)
        metrics["field_accuracy"] = round(right / pairs, 4) if pairs else 0.0
        metrics["labelled"] = {n: len(idx) for n, idx in labelled.items()}
    return predictions, metrics


def read_extra_set(path: str | Path, schema: dict[str, Any], system_prompt: str) -> list[dict[str, Any]]:
    """Rows ``{"text", "output", "source"?}`` ready to score; ``output`` may leave fields out.

    Every bad row is reported at once as ``file:line: field: reason``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (listed in eval.extra_sets)")
    partial = copy.deepcopy(schema)
    partial.pop("required", None)
    rows, errors = [], []
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            row, problem = parse_object_line(line, where)
            if problem:
                errors.append(problem)
                continue
            extra = sorted(set(row) - {"text", "output", "source"})
            if extra:
                errors.append(f"{where}: {extra[0]}: unknown key (allowed: text, output, source)")
            elif not isinstance(row.get("text"), str) or not row["text"].strip():
                errors.append(f"{where}: text: missing or empty (expected a non-empty string)")
            elif not isinstance(row.get("output"), dict) or not row["output"]:
                errors.append(f"{where}: output: missing, empty or not an object (label at least one field)")
            elif "source" in row and (not isinstance(row["source"], str) or not row["source"].strip()):
                errors.append(f"{where}: source: expected a non-empty string")
            else:
                problems = schema_errors(row["output"], partial)
                errors.extend(f"{where}: output{p[6:]}" if p.startswith("(root)") else f"{where}: output.{p}"
                              for p in problems)
                if not problems:
                    rows.append({**row, "prompt": prompt_messages(row["text"], system_prompt)})
    raise_errors(errors, f"rows in {path}")
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def set_name(path: str | Path) -> str:
    return Path(path).stem


def evaluate_extra_sets(model: Any, tokenizer: Any, sets: dict[str, list[dict[str, Any]]], schema: dict[str, Any],
                        gen: GenerationParams, ev: EvalParams, stage: str) -> dict[str, Any]:
    """Metrics per external set (every decoding mode), with a ``by_source`` breakdown when rows carry one."""
    results: dict[str, Any] = {}
    for name, rows in sets.items():
        predictions, metrics = evaluate_modes(model, tokenizer, rows, schema, gen, ev, desc=f"{stage} on {name}")
        sources = sorted({r["source"] for r in rows if "source" in r})
        if sources:
            for mode, preds in predictions.items():
                target = metrics if mode == "free" else metrics[mode]
                target["by_source"] = {}
                for src in sources:
                    idx = [i for i, r in enumerate(rows) if r.get("source") == src]
                    _, m = score_predictions([rows[i] for i in idx], [preds[i]["raw"] for i in idx], schema)
                    target["by_source"][src] = m
        results[name] = metrics
    return results
