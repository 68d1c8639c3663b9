"""Score the SFT adapter of another git revision and the current one on rows neither has seen.

    python bench/unseen_ab.py --rev 8fa5939          # needs that revision's outputs in the DVC cache/remote
    python bench/unseen_ab.py --rev e36c018 --adapter /tmp/exp/seed14   # an adapter from bench/sft_variant.py

A data change (e.g. more phrasing templates) also changes the test split, so test metrics of two
revisions are not comparable. This script takes the val and test rows of both revisions whose template
(``group``) is in neither revision's train split, and scores both adapters on exactly those rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

def fetch(rev: str, path: str, out: Path) -> Path:
    """``dvc get`` one output of ``rev`` from this repo (its cache or remote)."""
    cmd = [sys.executable, "-m", "dvc", "get", str(REPO), path, "--rev", rev, "-o", str(out)]
    subprocess.run(cmd, check=True, cwd=REPO)
    return out


def unseen_rows(splits: list[dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Val/test rows of every revision whose group no revision trained on, each text once."""
    trained = {r["group"] for s in splits for r in s["train"]}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for s in splits:
        for r in s["test"] + s["val"]:
            if r["group"] not in trained and r["text"] not in seen:
                seen.add(r["text"])
                rows.append(r)
    return rows


def subset_exact_match(rows: list[dict[str, Any]], preds: list[dict[str, Any]],
                       subsets: dict[str, set[str]]) -> dict[str, float | None]:
    """Exact match over the rows whose template is in each subset (None for an empty subset)."""
    out: dict[str, float | None] = {}
    for name, groups in subsets.items():
        hits = [p["exact_match"] for r, p in zip(rows, preds, strict=True) if r["group"] in groups]
        out[name] = round(sum(hits) / len(hits), 4) if hits else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", required=True, help="the other git revision (its dvc.lock outputs must be fetchable)")
    ap.add_argument("--adapter", help="score this SFT adapter, trained on this workspace's train split, as the "
                    "current one (e.g. from bench/sft_variant.py; default: runs/sft/adapter)")
    args = ap.parse_args()
    from jsontune.config import load_params
    from jsontune.data import SPLITS, read_jsonl
    from jsontune.evaluation import evaluate_rows
    from jsontune.models import load_for_inference, load_tokenizer
    from jsontune.pipeline import ADAPTER, SPLIT_FILE, load_split
    from jsontune.tasks import load_task

    with tempfile.TemporaryDirectory(prefix="unseen-ab-") as scratch:  # the other revision's splits and adapter
        tmp = Path(scratch)
        other = {s: read_jsonl(fetch(args.rev, SPLIT_FILE.format(split=s), tmp / f"{s}.jsonl")) for s in SPLITS}
        current = {s: load_split(REPO, s) for s in SPLITS}
        sft = ADAPTER.format(stage="sft")
        adapters = {args.rev: fetch(args.rev, sft, tmp / "adapter"), "current": Path(args.adapter or REPO / sft)}
        rows = unseen_rows([other, current])
        params = load_params(REPO / "params.yaml")
        tok, schema = load_tokenizer(params.model), load_task(params.task.name).schema
        # Old phrasings (the other revision's data has them) vs phrasings only the current generator makes.
        old_groups, groups = {r["group"] for s in other.values() for r in s}, {r["group"] for r in rows}
        subsets = {f"templates in {args.rev} data": old_groups, "templates only in current data": groups - old_groups}
        result: dict[str, Any] = {"rows": len(rows), "templates": len(groups), "scores": {},
                                  "subset_rows": {k: sum(r["group"] in g for r in rows) for k, g in subsets.items()}}
        for name, path in adapters.items():
            model = load_for_inference(params.model, path)
            preds, m = evaluate_rows(model, tok, rows, schema, params.generation, desc=f"{name} adapter")
            result["scores"][name] = {k: m[k] for k in ("exact_match", "schema_validity", "per_field")}
            result["scores"][name]["subset_exact_match"] = subset_exact_match(rows, preds, subsets)
            del model
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
