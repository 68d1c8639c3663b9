"""Human-readable reports: the reviewer's page (``reports/eval.md``) and the data behind ``dvc plots``.

Everything here is computed from the stages' metrics and prediction files, so the page can be rebuilt
without a model. Field names, the field to draw a confusion matrix for and the failure kinds all come
from the task's schema and the metrics files, never from the support-ticket task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jsontune.metrics import parse_output

HEADLINE = ("json_validity", "schema_validity", "field_accuracy", "exact_match")
INVALID = "(no valid value)"
WORST_PER_STAGE = 3


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _inline(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.replace("`", "'").replace("|", "\\|").split())[:300]


def confusion_field(schema: Mapping[str, Any]) -> str | None:
    """The enum field with the most values (ties: schema order): the one whose confusions matter most."""
    enums = [(len(p["enum"]), -i, name) for i, (name, p) in enumerate(schema.get("properties", {}).items())
             if isinstance(p, dict) and isinstance(p.get("enum"), list) and len(p["enum"]) > 1]
    return max(enums)[2] if enums else None


def confusion(predictions: Sequence[Mapping[str, Any]], field: str, labels: Sequence[Any]
              ) -> dict[str, dict[str, int]]:
    """Counts ``expected value -> predicted value`` over rows labelled with ``field``; anything that is
    not one of the labels (invalid output, missing key, out-of-enum value) is counted as INVALID."""
    keys = [json.dumps(v) if not isinstance(v, str) else v for v in labels]
    matrix = {k: dict.fromkeys([*keys, INVALID], 0) for k in keys}
    for row in predictions:
        expected = row["expected"]
        if field not in expected:
            continue
        gold = expected[field] if isinstance(expected[field], str) else json.dumps(expected[field])
        if gold not in matrix:
            continue
        parsed = parse_output(row["raw"]) or {}
        value = parsed.get(field, INVALID)
        got = value if isinstance(value, str) else json.dumps(value) if value is not INVALID else INVALID
        matrix[gold][got if got in matrix else INVALID] += 1
    return matrix


def top_confusions(matrix: Mapping[str, Mapping[str, int]], n: int = 5) -> list[tuple[str, str, int]]:
    pairs = [(gold, got, c) for gold, row in matrix.items() for got, c in row.items() if got != gold and c]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))[:n]


def _badness(row: Mapping[str, Any]) -> tuple[int, int, int]:
    """Sort key, worst first: not JSON, then schema-invalid, then the most failure kinds."""
    return (row["json_valid"], row["schema_valid"], -len(row.get("failures", [])))


def worst_examples(rows: Sequence[Mapping[str, Any]], n: int = WORST_PER_STAGE) -> list[Mapping[str, Any]]:
    misses = [r for r in rows if not r["exact_match"]]
    return sorted(misses, key=_badness)[:n]


def decoding_modes(stages: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Non-free decoding modes present in any stage's metrics (their dicts carry ``speed``)."""
    modes: list[str] = []
    for metrics in stages.values():
        for key, value in metrics.items():
            if isinstance(value, dict) and "speed" in value and "exact_match" in value and key not in modes:
                modes.append(key)
    return modes


def _overhead(free: Mapping[str, Any], other: Mapping[str, Any]) -> float | None:
    """Share of tokens/s lost to constraining (negative: faster); None when either was not measured."""
    a, b = free.get("speed", {}).get("tokens_per_second"), other.get("speed", {}).get("tokens_per_second")
    return round(1 - b / a, 3) if a and b else None


def _rate(speed: Mapping[str, Any]) -> int | None:
    tps = speed.get("tokens_per_second")
    return round(tps) if tps is not None else None


def decoding_rows(stages: Mapping[str, Mapping[str, Any]], mode: str) -> list[list[Any]]:
    rows = []
    for name, m in stages.items():
        if mode not in m:
            continue
        c = m[mode]
        rows.append([name, m["schema_validity"], c["schema_validity"], m["exact_match"], c["exact_match"],
                     round(c["exact_match"] - m["exact_match"], 4), _rate(m.get("speed", {})), _rate(c["speed"]),
                     _overhead(m, c),
                     f"{c['speed'].get('rows_generated', '?')}/{c['n']}"])
    return rows


def eval_markdown(stages: Mapping[str, Mapping[str, Any]], title: str = "Evaluation on the test split",
                  examples: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                  schema: Mapping[str, Any] | None = None, figures: Mapping[str, str] | None = None) -> str:
    """The reviewer's page: headline metrics, free vs constrained, per-field accuracy, the confusion
    matrix, failure kinds, external sets and the worst examples of every stage."""
    names = list(stages)
    first = next(iter(stages.values()))
    out = [f"# {title}", "", f"n = {first['n']} examples per stage; greedy decoding. Top-level numbers are free "
           "decoding; other decoding modes are listed separately.", ""]
    if figures:
        out += [f"![{k}]({v})" for k, v in figures.items()] + [""]
    out += ["## Headline metrics (free decoding)", ""]
    out += _table(["metric", *names], [[m, *(stages[s][m] for s in names)] for m in HEADLINE])
    for mode in decoding_modes(stages):
        out += ["", f"## Free vs {mode} decoding", "",
                f"Speed is generated tokens per second over the rows actually decoded; `{mode}` keeps a free "
                "answer the grammar accepts token by token (greedy decoding would pick the same tokens), so "
                "*rows decoded* can be fewer than n. Overhead is the share of tokens/s lost.", ""]
        out += _table(["stage", "schema valid (free)", f"schema valid ({mode})", "exact (free)", f"exact ({mode})",
                       "exact Δ", "tok/s free", f"tok/s {mode}", "overhead", "rows decoded"],
                      decoding_rows(stages, mode))
    fields = list(first["per_field"])
    out += ["", "## Per-field accuracy (free decoding)", ""]
    out += _table(["field", *names], [[f, *(stages[s]["per_field"].get(f) for s in names)] for f in fields])
    field = confusion_field(schema) if schema else None
    if field and examples:
        labels = schema["properties"][field]["enum"]
        shown = names[-1]
        matrix = confusion(examples[shown], field, labels)
        out += ["", f"## `{field}` confusion matrix ({shown}, free decoding)", "",
                "Rows: expected; columns: predicted.", ""]
        cols = [*matrix, INVALID]
        out += _table(["expected \\ got", *cols], [[g, *(matrix[g][c] for c in cols)] for g in matrix])
        out += ["", f"Most frequent `{field}` confusions per stage (expected → got: count):", ""]
        for stage in names:
            pairs = top_confusions(confusion(examples[stage], field, labels))
            text = ", ".join(f"{g} → {p}: {c}" for g, p, c in pairs) or "none"
            out.append(f"- {stage}: {text}")
    kinds = list(first["failures"])
    out += ["", "## Failure kinds (count of outputs showing each, free decoding)", ""]
    out += _table(["failure", *names], [[k, *(stages[s]["failures"].get(k) for s in names)] for k in kinds])
    out += _extra_sets_section(stages)
    if examples:
        out += ["", "## Worst examples (free decoding)", "",
                "Misses sorted worst first: not JSON, then schema-invalid, then the most failure kinds.", ""]
        for stage, rows in examples.items():
            worst = worst_examples(rows)
            out += [f"### {stage}: {len(worst)} of {sum(not r['exact_match'] for r in rows)} misses", ""]
            for r in worst:
                out += [f"- input: `{_inline(r['text'])}`", f"  - expected: `{_inline(r['expected'])}`",
                        f"  - got: `{_inline(r['raw'])}`" if r["raw"].strip() else "  - got: (nothing but whitespace)",
                        f"  - failures: {', '.join(r.get('failures', [])) or 'wrong value'}"]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _extra_sets_section(stages: Mapping[str, Mapping[str, Any]]) -> list[str]:
    sets: list[str] = []
    for m in stages.values():
        sets += [s for s in m.get("extra_sets", {}) if s not in sets]
    out: list[str] = []
    for name in sets:
        scored = {s: m["extra_sets"][name] for s, m in stages.items() if name in m.get("extra_sets", {})}
        first = next(iter(scored.values()))
        out += ["", f"## External set `{name}` (n = {first['n']})", ""]
        if "labelled" in first:
            out += ["Partially labelled; rows labelled per field: "
                    + ", ".join(f"{k} {v}" for k, v in first["labelled"].items()) + ".", ""]
        rows = []
        for stage, m in scored.items():
            for mode, mm in [("free", m), *((k, m[k]) for k in decoding_modes({stage: m}))]:
                rows.append([stage, mode, *(mm[k] for k in HEADLINE), *(mm["per_field"].values())])
        out += _table(["stage", "decoding", *HEADLINE, *first["per_field"]], rows)
        if "by_source" in first:
            out += ["", "By source (free decoding, exact match / field accuracy):", ""]
            sources = list(first["by_source"])
            out += _table(["stage", *sources], [[s, *(_source_cell(m["by_source"][src]) for src in sources)]
                                                for s, m in scored.items()])
    return out


def _source_cell(m: Mapping[str, Any]) -> str:
    return f"{m['exact_match']:.3f} / {m['field_accuracy']:.3f} (n={m['n']})"


def stage_plot_rows(stages: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Long-format rows (one per stage, decoding mode and metric) for a DVC bar chart."""
    rows = [{"stage": s, "metric": m, "label": f"{m} / {s}", "value": stages[s][m]} for m in HEADLINE for s in stages]
    for mode in decoding_modes(stages):
        rows += [{"stage": s, "metric": m, "label": f"{m} / {s} / {mode}", "value": stages[s][mode][m]}
                 for m in HEADLINE for s in stages if mode in stages[s]]
    return rows
