"""Property-based fuzzing (hypothesis) of everything that reads untrusted text: the metrics' output
parser and scorer, the schema validator and the JSONL line parser. They must never crash, and an output
is called valid only when jsonschema itself (checked here directly) says it is."""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from jsontune.data import jsonl_objects, parse_object_line
from jsontune.metrics import MAX_CHARS, aggregate, failure_kinds, parse_output, score_output
from jsontune.schema import schema_errors
from jsontune.tasks.support_ticket import generator

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ_SLOW = settings(FUZZ, max_examples=100)

# A second schema with the other JSON types, so every branch of the diagnosis gets random input.
MIXED = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 20},
        "age": {"type": "integer", "minimum": 0},
        "score": {"type": ["number", "null"]},
        "active": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "level": {"enum": ["low", "High", 3, None]},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age", "active"],
    "additionalProperties": False,
}
GOLDS = [row.output for row in generator.generate(40, seed=6)]
GOLD_MIXED = {"name": "Ann", "age": 31, "score": None, "active": True, "tags": ["a"], "level": "High",
              "email": "ann@example.com"}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _case_variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.lower(), word.title(), word.upper(), f" {word}", f"{word}\n"])


def _near_valid(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects built from the schema's own keys and values, mutated: most are close to valid."""
    values: dict[str, st.SearchStrategy[Any]] = {}
    for name, sub in schema["properties"].items():
        options: list[st.SearchStrategy[Any]] = [json_values]
        for member in sub.get("enum", []):
            options.append(_case_variants(member) if isinstance(member, str) else st.just(member))
        options += [st.just(v) for v in (None, "null", "A12345", "#A12345", "ORD-1", 12345, 1.5, True, [], {})]
        values[name] = st.one_of(options)
    keys = list(schema["properties"]) + ["extra", "Intent"]
    return st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)).flatmap(
        lambda ks: st.fixed_dictionaries({k: values.get(k, json_values) for k in ks}))


def _renderings(obj: dict[str, Any]) -> st.SearchStrategy[str]:
    """The ways a model might print an object: plain, spaced, fenced, wrapped in prose, cut off."""
    text = json.dumps(obj, ensure_ascii=False)
    return st.one_of(
        st.just(text),
        st.just(json.dumps(obj, indent=2)),
        st.just(f"```json\n{text}\n```"),
        st.just(f"Sure! Here it is: {text} Hope that helps."),
        st.integers(min_value=0, max_value=max(0, len(text) - 1)).map(lambda n: text[:n]),
        st.text(max_size=6).map(lambda junk: text + junk),
    )


@functools.cache
def _reference_validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _strict_object(raw: str) -> dict[str, Any] | None:
    """The reference answer: the whole stripped output is exactly one JSON object, no NaN/Infinity."""
    def reject(name: str) -> None:
        raise ValueError(name)

    try:
        obj = json.loads(raw.strip(), parse_constant=reject)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _check_score(raw: str, gold: dict[str, Any], schema: dict[str, Any]) -> None:
    score = score_output(raw, gold, schema)
    reference = _strict_object(raw) if len(raw) <= MAX_CHARS else None
    assert score.json_valid == (reference is not None)
    valid = reference is not None and _reference_validator(json.dumps(schema)).is_valid(reference)
    assert score.schema_valid == valid
    if score.exact_match:
        assert score.schema_valid and reference == gold
    assert set(score.failures) <= set(failure_kinds(schema))
    assert 0.0 <= score.field_accuracy <= 1.0 and not math.isnan(score.field_accuracy)
    assert set(score.fields) == set(schema["properties"])
    if score.json_valid and score.schema_valid and score.exact_match:
        assert score.field_accuracy == 1.0
    aggregate([score], schema)  # the corpus-level code accepts whatever the scorer produced


@FUZZ
@given(st.text(max_size=300))
def test_random_text_never_crashes_and_is_never_wrongly_valid(schema, raw: str) -> None:
    _check_score(raw, {"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"}, schema)


@FUZZ_SLOW
@given(st.data())
def test_near_valid_outputs_are_judged_exactly_like_jsonschema(schema, data: st.DataObject) -> None:
    obj = data.draw(_near_valid(schema))
    raw = data.draw(_renderings(obj))
    gold = data.draw(st.sampled_from(GOLDS))
    _check_score(raw, gold, schema)


@FUZZ_SLOW
@given(st.data())
def test_other_json_types_are_judged_exactly_like_jsonschema(data: st.DataObject) -> None:
    obj = data.draw(_near_valid(MIXED))
    _check_score(data.draw(_renderings(obj)), GOLD_MIXED, MIXED)


@FUZZ
@given(json_values)
def test_any_json_value_as_output(value: Any) -> None:
    _check_score(json.dumps(value), GOLD_MIXED, MIXED)


@settings(FUZZ, max_examples=30)
@given(st.integers(1, 2000), st.sampled_from(["[", "{\"a\":", "[{\"a\":"]))
def test_deep_nesting_is_not_a_crash(depth: int, opener: str) -> None:
    raw = opener * depth
    assert parse_output(raw) is None
    _check_score(raw, GOLD_MIXED, MIXED)


def test_over_long_output_is_not_parsed() -> None:
    raw = json.dumps({**GOLD_MIXED, "name": "x" * MAX_CHARS})
    assert parse_output(raw) is None
    assert not score_output(raw, GOLD_MIXED, MIXED).json_valid


@FUZZ
@given(json_values)
def test_schema_errors_agree_with_jsonschema(schema, value: Any) -> None:
    for sch in (schema, MIXED):
        errors = schema_errors(value, sch)
        assert (errors == []) == _reference_validator(json.dumps(sch)).is_valid(value)
        assert all(isinstance(e, str) and ": " in e for e in errors)


@FUZZ
@given(st.text(max_size=200))
def test_line_parser_never_crashes(line: str) -> None:
    row, problem = parse_object_line(line, "f.jsonl:7")
    assert (row is None) != (problem is None)
    if problem is not None:
        assert problem.startswith("f.jsonl:7: ")
    else:
        assert isinstance(row, dict)
        json.dumps(row, ensure_ascii=False).encode("utf-8")  # whatever is accepted can be written back


@FUZZ
@given(st.binary(max_size=300))
def test_jsonl_bytes_never_crash_and_every_line_is_accounted_for(raw: bytes) -> None:
    rows, errors, blank = jsonl_objects(raw, "f.jsonl")
    body = raw.removeprefix(b"\xef\xbb\xbf")
    n_lines = len(body.split(b"\n")) - (1 if body.endswith(b"\n") or not body else 0)
    assert len(rows) + len(errors) + blank == n_lines
    assert all(e.startswith("f.jsonl:") for e in errors)
