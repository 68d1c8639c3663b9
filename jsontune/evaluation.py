"""Scoring a model on a split: generate for every row, then apply the metrics library."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jsontune.config import GenerationParams
from jsontune.generation import generate
from jsontune.metrics import aggregate, score_output


def evaluate_rows(model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]], schema: dict[str, Any],
                  gen: GenerationParams, desc: str = "evaluating") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Predictions (one dict per row, for inspection and diffing) and the aggregate metrics."""
    raws = generate(model, tokenizer, [r["prompt"] for r in rows], batch_size=gen.batch_size,
                    max_new_tokens=gen.max_new_tokens, desc=desc)
    return score_predictions(rows, raws, schema)


def score_predictions(rows: Sequence[dict[str, Any]], raws: Sequence[str], schema: dict[str, Any]
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    scores = [score_output(raw, row["output"], schema) for raw, row in zip(raws, rows, strict=True)]
    predictions = [
        {"text": row["text"], "expected": row["output"], "raw": raw, "json_valid": s.json_valid,
         "schema_valid": s.schema_valid, "exact_match": s.exact_match, "failures": list(s.failures)}
        for row, raw, s in zip(rows, raws, scores, strict=True)
    ]
    return predictions, aggregate(scores, schema)
