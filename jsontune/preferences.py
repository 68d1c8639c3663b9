"""DPO preference pairs: gold answer vs a hard negative (one subtle flaw) or the SFT model's own miss."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from jsontune.metrics import score_output
from jsontune.negatives import Confusable, sample_negatives


def pick_prompts(rows: Sequence[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """A seeded sample of training rows to build pairs on (all rows when n exceeds them)."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:n]


def _pair(row: dict[str, Any], rejected: str, kind: str) -> dict[str, Any]:
    return {"prompt": row["prompt"], "chosen": row["completion"],
            "rejected": [{"role": "assistant", "content": rejected}], "kind": kind}


def build_pairs(rows: Sequence[dict[str, Any]], schema: dict[str, Any], hard_per_prompt: int, seed: int,
                on_policy_raws: Sequence[str] | None = None, confusable: Confusable | None = None
                ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Pairs for each row: ``hard_per_prompt`` synthetic negatives of distinct kinds, plus the SFT
    model's own answer when it is not an exact match (on-policy). ``confusable`` is the task's table of
    enum labels to prefer for wrong-label negatives. Returns the pairs and counts per kind."""
    rng = random.Random(seed)
    pairs: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if on_policy_raws is not None:
            raw = on_policy_raws[i]
            if not score_output(raw, row["output"], schema).exact_match:
                pairs.append(_pair(row, raw, "on_policy"))
        for kind, rejected in sample_negatives(row["output"], row["text"], schema, hard_per_prompt, rng,
                                                 confusable):
            pairs.append(_pair(row, rejected, kind))
    rng.shuffle(pairs)
    return pairs, dict(sorted(Counter(p["kind"] for p in pairs).items()))
