"""The reviewer's page and its charts, from metrics and predictions alone."""

from __future__ import annotations

import json
from pathlib import Path

from jsontune.charts import write_charts
from jsontune.evaluation import score_predictions
from jsontune.report import INVALID, confusion, confusion_field, eval_markdown, stage_plot_rows, worst_examples

ROWS = [{"text": "refund pls A1", "output": {"intent": "REFUND", "urgency": "LOW", "order_id": "A1"}, "source": "chat"},
        {"text": "where is it", "output": {"intent": "ORDER_STATUS", "urgency": "MEDIUM", "order_id": None},
         "source": "email"},
        {"text": "cancel!", "output": {"intent": "CANCEL_ORDER", "urgency": "HIGH", "order_id": None},
         "source": "chat"}]


def _stage(raws: list[str], schema: dict, constrained: list[str]) -> tuple[dict, list]:
    preds, m = score_predictions(ROWS, raws, schema)
    _, c = score_predictions(ROWS, constrained, schema)
    m["speed"] = {"rows_generated": 3, "new_tokens": 90, "seconds": 1.0, "tokens_per_second": 90.0}
    c["speed"] = {"rows_generated": 1, "new_tokens": 20, "seconds": 0.25, "tokens_per_second": 80.0}
    m["constrained"] = c
    _, extra = score_predictions(ROWS, raws, schema)
    extra["constrained"] = c
    extra["by_source"] = {"chat": extra, "email": extra}
    m["extra_sets"] = {"mine": extra}
    return m, preds


def _stages(schema: dict) -> tuple[dict, dict]:
    good = [json.dumps(r["output"]) for r in ROWS]
    bad = ["Sure! here you go", json.dumps({"intent": "REFUND", "urgency": "MEDIUM", "order_id": None}), good[2]]
    stages, examples = {}, {}
    for name, raws in (("baseline", bad), ("sft", good)):
        stages[name], examples[name] = _stage(raws, schema, good)
    return stages, examples


def test_confusion_field_and_matrix_come_from_the_schema(schema: dict) -> None:
    assert confusion_field(schema) == "intent"
    two = {"properties": {"a": {"enum": ["x", "y"]}, "b": {"enum": ["p", "q", "r"]}, "c": {"type": "string"}}}
    assert confusion_field(two) == "b" and confusion_field({"properties": {"c": {"type": "string"}}}) is None
    _, examples = _stages(schema)
    m = confusion(examples["baseline"], "intent", schema["properties"]["intent"]["enum"])
    assert m["REFUND"][INVALID] == 1 and m["ORDER_STATUS"]["REFUND"] == 1 and m["CANCEL_ORDER"]["CANCEL_ORDER"] == 1
    assert sum(sum(row.values()) for row in m.values()) == len(ROWS)


def test_report_has_every_section_a_reviewer_reads(schema: dict) -> None:
    stages, examples = _stages(schema)
    text = eval_markdown(stages, examples=examples, schema=schema, figures={"stage metrics": "figures/s.png"})
    for section in ("## Headline metrics", "## Free vs constrained decoding", "## Per-field accuracy",
                    "## `intent` confusion matrix (sft", "## Failure kinds", "## External set `mine` (n = 3)",
                    "By source", "## Worst examples", "![stage metrics](figures/s.png)"):
        assert section in text, section
    # Overhead: 1 - 80/90 of the tokens/s; rows decoded 1 of 3 (two free answers reused).
    assert "| 0.111 | 1/3 |" in text
    assert "- input: `refund pls A1`" in text and "not_json" in text
    assert worst_examples(examples["baseline"])[0]["raw"] == "Sure! here you go"
    labels = {r["label"] for r in stage_plot_rows(stages)}
    assert "exact_match / sft" in labels and "exact_match / sft / constrained" in labels


def test_charts_are_written_as_png(tmp_path: Path, schema: dict) -> None:
    stages, examples = _stages(schema)
    curves = tmp_path / "dvclive" / "sft"
    curves.mkdir(parents=True)
    (curves / "loss.tsv").write_text("step\tloss\n1\t2.0\n2\t1.5\n3\t1.2\n")
    figures = write_charts(stages, examples, schema, {"sft": curves, "dpo": tmp_path / "missing"}, tmp_path / "fig")
    assert set(figures) == {"stage metrics", "per-field accuracy", "intent confusion", "training loss"}
    for path in figures.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
