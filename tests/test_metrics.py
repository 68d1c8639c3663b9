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


# ---------------------------------------------------------------- richer schemas: arrays, bounds, nesting

PROFILE_SCHEMA = load_schema(jsontune.schema.TASKS_DIR / "user_profile" / "schema.json")
PROFILE_GOLD = {"full_name": "Priya Raman", "email": None, "years_of_experience": 8, "skills": ["Python", "SQL"],
                "primary_role": "Data Scientist"}
NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "who": {"type": "object", "properties": {"name": {"type": "string"},
                                                 "tier": {"enum": ["GOLD", "SILVER"]},
                                                 "home": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "additionalProperties": False}},
                "required": ["name"], "additionalProperties": False},
    },
    "required": ["id", "who"],
}
NESTED_GOLD = {"id": 3, "who": {"name": "Ana", "tier": "GOLD", "home": {"city": "Porto"}}}


def profile(**changes) -> OutputScore:
    return score_output(dumps({**PROFILE_GOLD, **changes}), PROFILE_GOLD, PROFILE_SCHEMA)


def test_failure_kinds_from_schema_keywords_on_the_profile_schema():
    assert failure_kinds(PROFILE_SCHEMA) == FAILURE_KINDS + (
        "out_of_range", "duplicate_item", "wrong_full_name", "wrong_email", "wrong_years_of_experience",
        "wrong_skills")
    cases = {
        "invalid_format": [{"email": "priya at gmail.com"}, {"email": "mailto:p@x.io"}, {"full_name": ""}],
        "duplicate_item": [{"skills": ["Python", "Python"]}, {"skills": ["SQL", "SQL"]}],
        "wrong_type": [{"email": "null"}, {"years_of_experience": "8"}, {"years_of_experience": 8.5},
                       {"years_of_experience": True}, {"skills": "Python, SQL"}, {"skills": ["Python", 1]}],
        "out_of_range": [{"years_of_experience": -1}],
        "wrong_enum_case": [{"skills": ["python", "SQL"]}, {"primary_role": "data scientist"}],
        "wrong_enum_value": [{"skills": ["Python", "Excel"]}, {"primary_role": "Backend Engineer"}],
        "wrong_email": [{"email": "p@x.io"}],
        "wrong_years_of_experience": [{"years_of_experience": 34}],
        "wrong_skills": [{"skills": ["SQL", "Python"]}, {"skills": []}, {"skills": ["Python", "SQL", "Rust"]}],
        "wrong_full_name": [{"full_name": "Priya"}],
    }
    for kind, variants in cases.items():
        for changes in variants:
            s = profile(**changes)
            assert s.failures == (kind,), changes
            assert not s.exact_match and s.json_valid
            allowed_label = changes == {"primary_role": "Backend Engineer"}
            assert s.schema_valid == (kind not in FAILURE_KINDS + ("out_of_range", "duplicate_item")
                                      or allowed_label), changes
    # Items are compared by position (the list is ordered): "sql" where gold has "Python" is both a case
    # slip and a wrong label.
    assert profile(skills=["sql", "Python"]).failures == ("wrong_enum_case", "wrong_enum_value")
    assert profile(years_of_experience=8.0).exact_match  # JSON numbers: 8.0 is 8
    assert profile().failures == () and profile().exact_match


def test_array_items_give_set_precision_recall_f1():
    exact = profile()
    assert exact.items == {"skills": (2, 2, 2)}
    assert profile(skills=["SQL", "Python"]).items == {"skills": (2, 2, 2)}  # right set, wrong order
    assert profile(skills=["Python"]).items == {"skills": (1, 1, 2)}
    assert profile(skills=["Python", "SQL", "Rust", "Go"]).items == {"skills": (2, 4, 2)}
    assert profile(skills="Python").items == {"skills": (0, 0, 2)}
    assert score_output("not json", PROFILE_GOLD, PROFILE_SCHEMA).items == {"skills": (0, 0, 2)}
    scores = [exact, profile(skills=["SQL", "Python"]), profile(skills=["Python"]),
              profile(skills=["Python", "SQL", "Rust", "Go"])]
    agg = aggregate(scores, PROFILE_SCHEMA)
    # matched 2+2+1+2 = 7 of predicted 2+2+1+4 = 9 and of gold 8
    assert agg["array_fields"] == {"skills": {"precision": round(7 / 9, 4), "recall": round(7 / 8, 4),
                                              "f1": round(2 * (7 / 9) * (7 / 8) / (7 / 9 + 7 / 8), 4)}}
    assert agg["per_field"]["skills"] == 0.25  # exact, order-sensitive list equality
    assert agg["failures"]["wrong_skills"] == 3 and agg["failures"]["out_of_range"] == 0
    assert "nested_fields" not in agg


def test_empty_arrays_on_both_sides_are_perfect():
    gold = {**PROFILE_GOLD, "skills": []}
    s = score_output(dumps(gold), gold, PROFILE_SCHEMA)
    assert s.items == {"skills": (0, 0, 0)}
    assert aggregate([s], PROFILE_SCHEMA)["array_fields"]["skills"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    wrong = score_output(dumps({**gold, "skills": ["Go"]}), gold, PROFILE_SCHEMA)
    assert aggregate([wrong], PROFILE_SCHEMA)["array_fields"]["skills"] == {"precision": 0.0, "recall": 0.0,
                                                                           "f1": 0.0}


def nested(who: dict, **top) -> OutputScore:
    return score_output(dumps({**NESTED_GOLD, **top, "who": who}), NESTED_GOLD, NESTED_SCHEMA)


def test_nested_objects_get_leaf_accuracy_and_deep_failure_kinds():
    assert failure_kinds(NESTED_SCHEMA) == FAILURE_KINDS + ("out_of_range", "wrong_id", "wrong_who")
    named_minimum = {"type": "object", "properties": {"minimum": {"type": "integer"}, "e": {"enum": [{"maximum": 1}]}}}
    assert failure_kinds(named_minimum) == FAILURE_KINDS + ("wrong_minimum",)  # a name and enum data, no bound
    ok = nested(NESTED_GOLD["who"])
    assert ok.exact_match and ok.subfields == {"who.name": True, "who.tier": True, "who.home.city": True}
    city = nested({"name": "Ana", "tier": "GOLD", "home": {"city": "Lisbon"}})
    assert city.failures == ("wrong_who",)
    assert city.subfields == {"who.name": True, "who.tier": True, "who.home.city": False}
    assert nested({"name": "Ana", "tier": "gold", "home": {"city": "Porto"}}).failures == ("wrong_enum_case",)
    assert nested({"name": "Ana", "tier": "SILVER", "home": {"city": "Porto"}}).failures == ("wrong_who",)
    assert nested({"name": "Ana", "tier": "BRONZE", "home": {"city": "Porto"}}).failures == ("wrong_enum_value",)
    assert nested({"name": 7, "tier": "GOLD", "home": {"city": "Porto"}}).failures == ("wrong_type",)
    assert nested({"tier": "GOLD", "home": {"city": "Porto"}}).failures == ("missing_key",)
    assert nested({**NESTED_GOLD["who"], "x": 1}).failures == ("extra_key",)
    assert nested({**NESTED_GOLD["who"], "home": {"city": "Porto", "zip": "1"}}).failures == ("extra_key",)
    assert nested(NESTED_GOLD["who"], id=0).failures == ("out_of_range",)
    missing_leaf = nested({"name": "Ana", "tier": "GOLD"})
    assert missing_leaf.subfields["who.home.city"] is False and missing_leaf.failures == ("wrong_who",)
    agg = aggregate([ok, city, missing_leaf], NESTED_SCHEMA)
    assert agg["nested_fields"] == {"who.name": 1.0, "who.tier": 1.0, "who.home.city": 0.3333}
    assert agg["per_field"] == {"id": 1.0, "who": 0.3333}
    assert "array_fields" not in agg
