"""Hand-written outputs for every failure kind and flag; values are asserted exactly on purpose."""

from __future__ import annotations

import json
import time

import pytest

import jsontune.schema
from jsontune.metrics import (
    FAILURE_KINDS,
    MAX_CHARS,
    OutputScore,
    aggregate,
    failure_kinds,
    json_equal,
    parse_output,
    score_output,
)
from jsontune.schema import canonical_json, load_schema

SCHEMA = load_schema(jsontune.schema.TASKS_DIR / "support_ticket" / "schema.json")
GOLD = {"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"}
GOLD_NULL = {"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": None}
CANON = '{"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"}'
ALL_FALSE = {"intent": False, "urgency": False, "order_id": False}
ALL_TRUE = {"intent": True, "urgency": True, "order_id": True}

# A second schema with non-string types and nested values, to show nothing is ticket-specific.
TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object"},
    },
    "required": ["count", "flag", "tags", "meta"],
    "additionalProperties": False,
}
TYPED_GOLD = {"count": 1, "flag": True, "tags": ["a", "b"], "meta": {"x": 1, "y": [1, 2]}}


def score(raw: str, gold: dict | None = None):
    return score_output(raw, GOLD if gold is None else gold, SCHEMA)


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def test_failure_kinds_are_stable():
    assert FAILURE_KINDS == (
        "not_json",
        "markdown_fence",
        "prose_wrapper",
        "truncated",
        "extra_key",
        "missing_key",
        "wrong_type",
        "wrong_enum_case",
        "wrong_enum_value",
        "invalid_format",
        "wrong_key_order",
    )
    assert failure_kinds(SCHEMA) == FAILURE_KINDS + ("wrong_order_id",)
    assert failure_kinds(TYPED_SCHEMA) == FAILURE_KINDS + (
        "wrong_count",
        "wrong_flag",
        "wrong_tags",
        "wrong_meta",
    )


def test_field_kind_that_collides_with_a_generic_kind_is_renamed():
    schema = {"type": "object", "properties": {"type": {"type": "string"}, "name": {"type": "string"}}}
    assert failure_kinds(schema) == FAILURE_KINDS + ("wrong_field_type", "wrong_name")
    s = score_output('{"type": "b", "name": "n"}', {"type": "a", "name": "n"}, schema)
    assert s.failures == ("wrong_field_type",)


def test_exact_match():
    assert canonical_json(GOLD, SCHEMA) == CANON
    s = score(CANON)
    assert s.json_valid and s.schema_valid and s.exact_match
    assert s.fields == ALL_TRUE
    assert s.field_accuracy == 1.0
    assert s.failures == ()
    assert s.parsed == GOLD
    assert s.recovered == GOLD


def test_whitespace_only_difference_is_exact():
    raw = '\n  {\n  "intent" : "REFUND",\n\t"urgency":"HIGH" ,"order_id":   "A12345"\n}\n\n'
    s = score(raw)
    assert s.exact_match and s.json_valid and s.failures == ()


def test_null_order_id_exact_and_null_string_is_wrong_type():
    assert score('{"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": null}', GOLD_NULL).exact_match
    s = score('{"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": "null"}', GOLD_NULL)
    assert s.failures == ("wrong_type",)
    assert s.schema_valid  # "null" matches the order_id pattern, so only the metric catches it
    assert not s.exact_match
    assert s.fields == {"intent": True, "urgency": True, "order_id": False}
    assert s.field_accuracy == pytest.approx(2 / 3)


def test_wrong_key_order():
    s = score('{"urgency": "HIGH", "intent": "REFUND", "order_id": "A12345"}')
    assert s.json_valid and s.schema_valid
    assert not s.exact_match
    assert s.fields == ALL_TRUE
    assert s.failures == ("wrong_key_order",)


def test_not_json_prose_and_empty():
    for raw in ["I cannot help with that.", "", "   \n ", "[1, 2]", '"REFUND"', "null"]:
        s = score(raw)
        assert s.failures == ("not_json",), raw
        assert not s.json_valid and not s.schema_valid and not s.exact_match
        assert s.fields == ALL_FALSE and s.field_accuracy == 0.0
        assert s.parsed is None and s.recovered is None


def test_nan_is_not_json():
    s = score('{"intent": "REFUND", "urgency": "HIGH", "order_id": NaN}')
    assert not s.json_valid
    assert s.failures == ("not_json",)


@pytest.mark.parametrize("raw", [f"```json\n{CANON}\n```", f"```\n{CANON}\n```", f"```JSON {CANON}```"])
def test_markdown_fence(raw):
    s = score(raw)
    assert s.failures == ("markdown_fence",)
    assert not s.json_valid and not s.schema_valid and not s.exact_match
    assert s.fields == ALL_FALSE and s.parsed is None
    assert s.recovered == GOLD


def test_unclosed_fence_is_still_a_fence():
    assert score(f"```json\n{CANON}").failures == ("markdown_fence",)


def test_fence_with_prose_reports_both():
    s = score(f"Sure! Here it is:\n```json\n{CANON}\n```\nAnything else?")
    assert s.failures == ("markdown_fence", "prose_wrapper")
    assert s.recovered == GOLD


@pytest.mark.parametrize(
    "raw",
    [
        f"Here is the JSON: {CANON}",
        f"{CANON}\nLet me know if you need more.",
        f"[{CANON}]",
        f"Use {{x}}: {CANON}",
    ],
)
def test_prose_wrapper(raw):
    s = score(raw)
    assert s.failures == ("prose_wrapper",)
    assert not s.json_valid and s.fields == ALL_FALSE
    assert s.recovered == GOLD


def test_recovered_object_is_still_diagnosed():
    s = score('Here: {"intent": "refund", "urgency": "HIGH", "order_id": "A12345"}')
    assert s.failures == ("prose_wrapper", "wrong_enum_case")


def test_every_proper_prefix_is_truncated():
    for cut in range(1, len(CANON)):
        s = score(CANON[:cut])
        assert s.failures == ("truncated",), CANON[:cut]
        assert not s.json_valid and s.recovered is None


def test_truncated_with_escapes_and_literals():
    for raw in ['{"a": "x\\', '{"a": "\\u00', '{"a": tr', '{"a": [1, 2', '{"a": -', '{"a": 1.5e', '{"a": nu']:
        assert score(raw).failures == ("truncated",), raw


def test_truncated_inside_fence_or_after_prose():
    assert score('```json\n{"intent": "REF').failures == ("markdown_fence", "truncated")
    assert score('Here is the JSON: {"intent": "REF').failures == ("prose_wrapper", "truncated")


def test_broken_json_that_is_not_a_prefix_is_not_truncated():
    assert score('{"intent": "REFUND",, "urgency": "HIGH"').failures == ("not_json",)
    assert score('{"intent": REFUND, "urgency": "HIGH"').failures == ("not_json",)


def test_extra_key():
    s = score('{"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345", "confidence": 0.9}')
    assert s.failures == ("extra_key",)
    assert s.json_valid and not s.schema_valid and not s.exact_match
    assert s.fields == ALL_TRUE and s.field_accuracy == 1.0


def test_missing_key():
    s = score('{"intent": "REFUND", "urgency": "HIGH"}')
    assert s.failures == ("missing_key",)
    assert s.json_valid and not s.schema_valid
    assert s.fields == {"intent": True, "urgency": True, "order_id": False}
    assert s.field_accuracy == pytest.approx(2 / 3)


def test_wrong_type_number_for_string():
    s = score('{"intent": "REFUND", "urgency": "HIGH", "order_id": 12345}', {**GOLD, "order_id": "12345"})
    assert s.failures == ("wrong_type",)
    assert not s.schema_valid
    assert s.fields == {"intent": True, "urgency": True, "order_id": False}


def test_wrong_type_on_enum_field():
    assert score('{"intent": "REFUND", "urgency": 3, "order_id": "A12345"}').failures == ("wrong_type",)


def test_wrong_enum_case():
    s = score('{"intent": "refund", "urgency": "HIGH", "order_id": "A12345"}')
    assert s.failures == ("wrong_enum_case",)
    assert not s.schema_valid
    assert s.fields == {"intent": False, "urgency": True, "order_id": True}


def test_wrong_case_of_a_wrong_label_reports_both():
    s = score('{"intent": "return", "urgency": "HIGH", "order_id": "A12345"}')
    assert s.failures == ("wrong_enum_case", "wrong_enum_value")


def test_wrong_enum_value_allowed_but_not_gold():
    s = score('{"intent": "RETURN", "urgency": "HIGH", "order_id": "A12345"}')
    assert s.failures == ("wrong_enum_value",)
    assert s.schema_valid and not s.exact_match
    assert s.field_accuracy == pytest.approx(2 / 3)


def test_wrong_enum_value_not_allowed():
    s = score('{"intent": "REFUNDS", "urgency": "URGENT", "order_id": "A12345"}')
    assert s.failures == ("wrong_enum_value",)
    assert not s.schema_valid
    assert s.fields == {"intent": False, "urgency": False, "order_id": True}


def test_wrong_order_id():
    for raw, gold in [
        ('{"intent": "REFUND", "urgency": "HIGH", "order_id": "B99999"}', GOLD),
        ('{"intent": "REFUND", "urgency": "HIGH", "order_id": null}', GOLD),
        ('{"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": "A99"}', GOLD_NULL),
    ]:
        s = score(raw, gold)
        assert s.failures == ("wrong_order_id",), raw
        assert s.schema_valid
        assert s.fields["order_id"] is False and s.fields["intent"] is True


def test_invalid_format():
    s = score('{"intent": "REFUND", "urgency": "HIGH", "order_id": "#A12345"}')
    assert s.failures == ("invalid_format",)
    assert s.json_valid and not s.schema_valid
    assert s.fields == {"intent": True, "urgency": True, "order_id": False}


def test_several_failures_in_one_output_are_all_reported_in_stable_order():
    s = score('{"notes": "", "urgency": "high", "order_id": "#A1", "intent": "RETURN"}')
    assert s.failures == ("extra_key", "wrong_enum_case", "wrong_enum_value", "invalid_format")
    assert s.fields == ALL_FALSE and s.field_accuracy == 0.0


def test_json_equal_is_type_strict():
    assert not json_equal(1, True)
    assert not json_equal(0, False)
    assert not json_equal(1, "1")
    assert not json_equal(None, "null")
    assert not json_equal([1], [True])
    assert not json_equal({"a": 1}, {"a": "1"})
    assert json_equal(1, 1.0)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


def typed(changes: dict) -> OutputScore:
    """Score TYPED_GOLD with some fields replaced, keeping schema key order."""
    return score_output(dumps({**TYPED_GOLD, **changes}), TYPED_GOLD, TYPED_SCHEMA)


def test_type_strictness_and_nested_values_on_another_schema():
    assert typed({}).exact_match and typed({}).failures == ()
    nested_order = typed({"count": 1.0, "meta": {"y": [1, 2], "x": 1}})
    assert nested_order.exact_match and nested_order.failures == ()
    for changes in [{"count": True}, {"count": "1"}, {"flag": 1}, {"flag": "true"}, {"tags": "a,b"}]:
        s = typed(changes)
        assert s.failures == ("wrong_type",), changes
        assert not s.schema_valid
    swapped = typed({"tags": ["b", "a"], "meta": {"x": True, "y": [1, 2]}})
    assert swapped.failures == ("wrong_tags", "wrong_meta")
    assert swapped.fields == {"count": True, "flag": True, "tags": False, "meta": False}
    assert swapped.field_accuracy == 0.5
    assert swapped.schema_valid


def test_huge_output_is_bounded():
    padded = "{" + " " * MAX_CHARS + CANON[1:]
    assert json.loads(padded) == GOLD
    assert parse_output(padded) is None
    assert parse_output(CANON, max_chars=len(CANON)) == GOLD
    assert parse_output(CANON, max_chars=len(CANON) - 1) is None
    started = time.perf_counter()
    s = score(padded)
    assert s.failures == ("not_json",) and not s.json_valid
    assert score("{" * 10_000_000).failures == ("not_json",)
    deep = score('{"a":' * 20_000)
    assert not deep.json_valid
    prose = score("{x} " * 20_000)
    assert prose.failures == ("not_json",)
    assert time.perf_counter() - started < 5


def test_aggregate_maths():
    scores = [
        score(CANON),
        score('{"urgency": "HIGH", "intent": "REFUND", "order_id": "A12345"}'),
        score(f"```json\n{CANON}\n```"),
        score('{"intent": "REFUND", "urgency": "HIGH"}'),
    ]
    agg = aggregate(scores, SCHEMA)
    assert agg == {
        "n": 4,
        "json_validity": 0.75,
        "schema_validity": 0.5,
        "field_accuracy": 0.6667,
        "exact_match": 0.25,
        "per_field": {"intent": 0.75, "urgency": 0.75, "order_id": 0.5},
        "failures": {
            "not_json": 0,
            "markdown_fence": 1,
            "prose_wrapper": 0,
            "truncated": 0,
            "extra_key": 0,
            "missing_key": 1,
            "wrong_type": 0,
            "wrong_enum_case": 0,
            "wrong_enum_value": 0,
            "invalid_format": 0,
            "wrong_key_order": 1,
            "wrong_order_id": 0,
        },
    }
    assert list(agg["per_field"]) == ["intent", "urgency", "order_id"]
    assert list(agg["failures"]) == list(failure_kinds(SCHEMA))
    assert json.loads(json.dumps(agg)) == agg


def test_aggregate_counts_outputs_not_occurrences():
    s = score('{"notes": "", "urgency": "high", "order_id": "#A1", "intent": "RETURN"}')
    agg = aggregate([s, s, score(CANON)], SCHEMA)
    assert agg["failures"]["wrong_enum_value"] == 2
    assert agg["failures"]["extra_key"] == 2
    assert agg["exact_match"] == 0.3333
    assert agg["per_field"] == {"intent": 0.3333, "urgency": 0.3333, "order_id": 0.3333}


def test_aggregate_rejects_empty_and_foreign_scores():
    with pytest.raises(ValueError, match="zero"):
        aggregate([], SCHEMA)
    typed = score_output('{"count": 2, "flag": true, "tags": [], "meta": {}}', TYPED_GOLD, TYPED_SCHEMA)
    with pytest.raises(ValueError):
        aggregate([typed], SCHEMA)
