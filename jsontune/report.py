"""Human-readable reports: the side-by-side markdown table and the data behind ``dvc plots``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

HEADLINE = ("json_validity", "schema_validity", "field_accuracy", "exact_match")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def eval_markdown(stages: Mapping[str, Mapping[str, Any]], title: str = "Evaluation on the test split",
                  examples: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> str:
    """Baseline / SFT / DPO side by side: headline metrics, per-field accuracy, failure kinds."""
    names = list(stages)
    out = [f"# {title}", "", f"n = {next(iter(stages.values()))['n']} examples per stage.", ""]
    out += ["## Headline metrics", ""]
    out += _table(["metric", *names], [[m, *(stages[s][m] for s in names)] for m in HEADLINE])
    fields = list(next(iter(stages.values()))["per_field"])
    out += ["", "## Per-field accuracy", ""]
    out += _table(["field", *names], [[f, *(stages[s]["per_field"][f] for s in names)] for f in fields])
    kinds = list(next(iter(stages.values()))["failures"])
    out += ["", "## Failure kinds (count of outputs showing each)", ""]
    out += _table(["failure", *names], [[k, *(stages[s]["failures"][k] for s in names)] for k in kinds])
    if examples:
        out += ["", "## Worst examples", ""]
        for stage, rows in examples.items():
            misses = [r for r in rows if not r["exact_match"]][:3]
            out += [f"### {stage}: {len(misses)} shown", ""]
            for r in misses:
                out += [f"- input: `{_inline(r['text'])}`", f"  - expected: `{_inline(r['expected'])}`",
                        f"  - got: `{_inline(r['raw'])}`"]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _inline(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.replace("`", "'").split())[:300]


def stage_plot_rows(stages: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Long-format rows (one per stage and metric) for a DVC bar chart."""
    return [{"stage": s, "metric": m, "label": f"{m} / {s}", "value": stages[s][m]}
            for m in HEADLINE for s in stages]
