"""External labelled sets: reading with file:line:field errors, partial labels, per-source scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jsontune.data import DataError
from jsontune.evaluation import read_extra_set, score_predictions
from jsontune.tasks.support_ticket.generator import rule_urgency
from tests.conftest import REPO

SHIPPED = REPO / "jsontune" / "tasks" / "support_ticket" / "extra" / "handwritten.jsonl"


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_shipped_set_reads_and_agrees_with_the_documented_urgency_rule(schema: dict) -> None:
    rows = read_extra_set(SHIPPED, schema, "sys")
    assert len(rows) >= 20 and {r["source"] for r in rows} >= {"email", "chat"}
    assert rows[0]["prompt"][0] == {"role": "system", "content": "sys"}
    for r in rows:
        if "urgency" in r["output"]:
            # Information-only messages (PRODUCT_INFO, OTHER, policy questions) default to LOW.
            info = r["output"]["intent"] in ("PRODUCT_INFO", "OTHER") or r["text"].startswith("How long")
            assert rule_urgency(r["text"], info) == r["output"]["urgency"], r["text"]


def test_bad_rows_are_all_reported_with_file_line_and_field(tmp_path: Path, schema: dict) -> None:
    path = _write(tmp_path / "mine.jsonl", [
        {"text": "ok", "output": {"intent": "REFUND"}},
        "{not json",
        {"text": "", "output": {"intent": "REFUND"}},
        {"text": "x", "output": {"intent": "refund"}},
        {"text": "x", "output": {"intent": "REFUND", "colour": "red"}},
        {"text": "x", "output": {}},
        {"text": "x", "output": {"intent": "REFUND"}, "lang": "en"},
        {"text": "x", "output": {"intent": "REFUND"}, "source": 3},
    ])
    with pytest.raises(DataError) as err:
        read_extra_set(path, schema, "")
    msg = str(err.value)
    assert "7 invalid rows" in msg
    for expected in (":2: (line): not valid JSON", ":3: text: missing", ":4: output.intent:", ":5: output",
                     ":6: output: missing, empty", ":7: lang: unknown key", ":8: source: expected"):
        assert f"{path}{expected}" in msg, expected
    with pytest.raises(DataError, match="file not found"):
        read_extra_set(tmp_path / "none.jsonl", schema, "")


def test_an_unlabelled_field_is_not_scored(schema: dict) -> None:
    rows = [{"text": "a", "output": {"intent": "REFUND", "urgency": "LOW", "order_id": None}},
            {"text": "b", "output": {"intent": "RETURN", "order_id": "A1"}, "source": "chat"}]
    raws = [json.dumps({"intent": "REFUND", "urgency": "HIGH", "order_id": None}),
            json.dumps({"intent": "RETURN", "urgency": "HIGH", "order_id": "A1"})]
    predictions, m = score_predictions(rows, raws, schema)
    assert m["labelled"] == {"intent": 2, "urgency": 1, "order_id": 2}
    assert m["per_field"] == {"intent": 1.0, "urgency": 0.0, "order_id": 1.0}
    assert m["field_accuracy"] == 0.8  # 4 of 5 labelled (row, field) pairs
    assert [p["exact_match"] for p in predictions] == [False, True] and predictions[1]["source"] == "chat"
    assert m["failures"]["wrong_enum_value"] == 1


def test_complete_labels_score_exactly_like_the_metrics_library(schema: dict) -> None:
    from jsontune.metrics import aggregate, score_output

    rows = [{"text": "a", "output": {"intent": "REFUND", "urgency": "LOW", "order_id": None}}] * 2
    raws = ['{"intent": "REFUND", "urgency": "HIGH", "order_id": null}', "no json"]
    _, m = score_predictions(rows, raws, schema)
    assert m == aggregate([score_output(r, rows[0]["output"], schema) for r in raws], schema)
