"""Scoring raw model outputs against a gold object, driven only by the task's JSON Schema.

Two questions are answered separately. The strict flags (``json_valid``, ``exact_match``, ...) say
whether a program could take the output as it is. The failure kinds say *what went wrong*, so they
are also computed on an object recovered from fences or prose, although such outputs stay invalid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from jsontune.schema import canonical, field_names, is_valid

FAILURE_KINDS: tuple[str, ...] = (
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

# Added to a schema's kinds only when the schema has a bound that can be violated.
OUT_OF_RANGE = "out_of_range"
# Added only when the schema has ``uniqueItems: true`` (a repeated list item, e.g. a skill twice).
DUPLICATE_ITEM = "duplicate_item"
_UNIQUE_KEYWORDS = frozenset({"uniqueItems"})
_RANGE_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                             "minItems", "maxItems", "minProperties", "maxProperties", "minContains",
                             "maxContains"})
_NAMED_SCHEMAS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_DATA_KEYWORDS = ("enum", "const", "default", "examples")

MAX_CHARS = 100_000
# Outputs are untrusted: cap how many '{' positions are tried when looking for an object in prose.
_MAX_OBJECT_STARTS = 64
# A string spelling of null where the schema allows a real null is a type confusion, not a value.
_NULL_WORDS = frozenset({"null", "none"})
_JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\r?\n?(.*?)```", re.S)
_OPEN_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\r?\n?")
_MISSING: Any = object()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# NaN/Infinity are accepted by Python's json but by no strict JSON consumer.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_TYPES = Draft202012Validator.TYPE_CHECKER


@dataclass(frozen=True)
class OutputScore:
    """Everything measured about one output; ``recovered`` is what the failure checks looked at."""

    json_valid: bool
    schema_valid: bool
    fields: dict[str, bool]
    field_accuracy: float
    exact_match: bool
    failures: tuple[str, ...]
    parsed: dict[str, Any] | None
    recovered: dict[str, Any] | None = None
    items: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Per array field: (matched, predicted, gold) counts of distinct items, for set precision/recall."""
    subfields: dict[str, bool] = field(default_factory=dict)
    """Per leaf of a nested object field (``address.city``): right or wrong."""


def json_equal(a: Any, b: Any) -> bool:
    """JSON-value equality: booleans, numbers, strings and null never equal each other (``1 != True``).

    Integers and floats compare numerically (``1 == 1.0``) as JSON Schema does; object key order is
    ignored, array order is not.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return False


def _same_items(obj: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal including top-level key order, which is what the model is trained to reproduce."""
    if list(obj) != list(expected):
        return False
    return all(json_equal(obj[k], expected[k]) for k in obj)


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # A property schema may legally be the boolean ``true``; treat it as "no constraints".
    return {k: v if isinstance(v, dict) else {} for k, v in schema["properties"].items()}


def _wrong_field_kinds(schema: dict[str, Any]) -> dict[str, str]:
    """Failure kind per non-enum field; renamed when it would collide with a generic kind."""
    kinds = {}
    for name, sub in _properties(schema).items():
        if "enum" in sub:
            continue
        kind = f"wrong_{name}"
        kinds[name] = f"wrong_field_{name}" if kind in FAILURE_KINDS else kind
    return kinds


def _has_keyword(sub: Any, keywords: frozenset[str]) -> bool:
    """Whether a (sub-)schema, at any depth, uses one of ``keywords`` (``uniqueItems: false`` does not count)."""
    if isinstance(sub, list):
        return any(_has_keyword(v, keywords) for v in sub)
    if not isinstance(sub, dict):
        return False
    if any(sub[k] is not False for k in keywords & sub.keys()):
        return True
    # Under "properties" and the like the keys are names, not keywords; enum/const/default hold data.
    named = [v for k in _NAMED_SCHEMAS if isinstance(sub.get(k), dict) for v in sub[k].values()]
    nested = [v for k, v in sub.items() if k not in _NAMED_SCHEMAS and k not in _DATA_KEYWORDS]
    return any(_has_keyword(v, keywords) for v in named + nested)


def failure_kinds(schema: dict[str, Any]) -> tuple[str, ...]:
    """The stable list of kinds for a schema: the generic ones, ``out_of_range`` when the schema has a
    numeric or size bound, ``duplicate_item`` when it has ``uniqueItems``, then ``wrong_<field>`` in
    schema order."""
    extra = tuple(kind for kind, keywords in ((OUT_OF_RANGE, _RANGE_KEYWORDS), (DUPLICATE_ITEM, _UNIQUE_KEYWORDS))
                  if _has_keyword(schema, keywords))
    return FAILURE_KINDS + extra + tuple(_wrong_field_kinds(schema).values())


def _load_object(text: str) -> dict[str, Any] | None:
    try:
        obj = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def parse_output(raw: str, max_chars: int = MAX_CHARS) -> dict[str, Any] | None:
    """The object if the whole stripped output is exactly one JSON object, else None.

    Over-long outputs are not parsed at all so that a runaway generation costs bounded time.
    """
    if len(raw) > max_chars:
        return None
    return _load_object(raw.strip())


def _is_truncated(text: str) -> bool:
    """True when ``text`` (starting with '{') is a proper prefix of some JSON object.

    Scans brackets outside strings, then tries a few completions; appending can never repair an
    earlier error, so any completion that parses proves the text is a prefix.
    """
    closers: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not closers or closers.pop() != ch or not closers:
                return False
    if not closers:
        return False
    if in_string:
        tails = ['n"'] if escaped else ['"', '0"', '00"', '000"', '0000"']
    else:
        tails = ["", "0"]
        for literal in ("true", "false", "null"):
            tails += [literal[k:] for k in range(1, len(literal)) if text.endswith(literal[:k])]
    close = "".join(reversed(closers))
    return any(
        _load_object(text + tail + middle + close) is not None
        for tail in tails
        for middle in ("", "0", ":0", '"":0')
    )


def _embedded_object(text: str) -> tuple[dict[str, Any], int, int] | None:
    """The first JSON object found inside surrounding text, with its span."""
    start = text.find("{")
    for _ in range(_MAX_OBJECT_STARTS):
        if start < 0:
            return None
        try:
            obj, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            obj, end = None, start
        if isinstance(obj, dict):
            return obj, start, end
        start = text.find("{", start + 1)
    return None


def _recover(text: str) -> tuple[dict[str, Any] | None, set[str]]:
    """Best-effort object behind an output that is not strict JSON, and why it was not."""
    kinds: set[str] = set()
    body = text
    fence = _FENCE.search(text)
    if fence:
        kinds.add("markdown_fence")
        if (text[: fence.start()] + text[fence.end() :]).strip():
            kinds.add("prose_wrapper")
        body = fence.group(1).strip()
    elif opener := _OPEN_FENCE.match(text):
        kinds.add("markdown_fence")
        body = text[opener.end() :].strip()

    obj = _load_object(body)
    if obj is not None:
        return obj, kinds
    found = _embedded_object(body)
    if found is not None:
        obj, start, end = found
        if body[:start].strip() or body[end:].strip():
            kinds.add("prose_wrapper")
        return obj, kinds
    first = body.find("{")
    if first >= 0 and _is_truncated(body[first:]):
        kinds.add("truncated")
        if body[:first].strip():
            kinds.add("prose_wrapper")
        return None, kinds
    return None, {"not_json"}


def _type_allowed(value: Any, sub: dict[str, Any]) -> bool:
    types = sub.get("type")
    if types is None:
        if "enum" not in sub:
            return True
        types = [t for member in sub["enum"] for t in _JSON_TYPES if _TYPES.is_type(member, t)]
    elif isinstance(types, str):
        types = [types]
    return any(_TYPES.is_type(value, t) for t in types)


def _allows_null(sub: dict[str, Any]) -> bool:
    types = sub.get("type")
    return types == "null" or (isinstance(types, list) and "null" in types)


def _at(obj: Any, path: Sequence[Any]) -> Any:
    """The value at a JSON path inside ``obj``, or _MISSING."""
    for part in path:
        if isinstance(obj, dict) and isinstance(part, str) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
            obj = obj[part]
        else:
            return _MISSING
    return obj


def _enum_kinds(value: Any, expected: Any, enum: Sequence[Any]) -> set[str]:
    """A value outside (or a wrong member of) an enum: a case slip, a wrong label, or both."""
    if isinstance(value, str) and not any(json_equal(value, member) for member in enum):
        same_letters = [m for m in enum if isinstance(m, str) and m.casefold() == value.casefold()]
        if same_letters:
            if any(json_equal(m, expected) for m in same_letters):
                return {"wrong_enum_case"}
            return {"wrong_enum_case", "wrong_enum_value"}
    return {"wrong_enum_value"}


def _error_kinds(error: Any, expected: Any) -> set[str]:
    """Failure kinds for one jsonschema error, by the keyword that failed (recursing into anyOf/oneOf)."""
    keyword = error.validator
    if keyword == "type":
        return {"wrong_type"}
    if keyword in ("enum", "const"):
        enum = error.validator_value if keyword == "enum" else [error.validator_value]
        return _enum_kinds(error.instance, _at(expected, list(error.relative_path)), enum)
    if keyword in _RANGE_KEYWORDS:
        return {OUT_OF_RANGE}
    if keyword in _UNIQUE_KEYWORDS:
        return {DUPLICATE_ITEM}
    if keyword in ("additionalProperties", "unevaluatedProperties", "propertyNames"):
        return {"extra_key"}
    if keyword in ("required", "dependentRequired"):
        return {"missing_key"}
    if error.context:
        return _error_kinds(max(error.context, key=lambda e: len(e.relative_path)), expected)
    return {"invalid_format"}  # pattern, format, string length and any other constraint


@lru_cache(maxsize=256)
def _sub_validator(sub_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(sub_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _diagnose_value(value: Any, expected: Any, sub: dict[str, Any], wrong_field: str | None) -> set[str]:
    """Why a present value differs from gold: the kinds of the constraints it breaks (from jsonschema's
    errors), else a wrong enum label or a wrong ``<field>`` value."""
    if not _type_allowed(value, sub):
        return {"wrong_type"}
    if "enum" in sub:
        return _enum_kinds(value, expected, sub["enum"])
    if isinstance(value, str):
        if _allows_null(sub) and value.strip().casefold() in _NULL_WORDS:
            return {"wrong_type"}
    kinds: set[str] = set()
    expected_value = None if expected is _MISSING else expected
    errors = list(_sub_validator(json.dumps(sub, sort_keys=True)).iter_errors(value))
    # A value of the wrong type also fails its enum; report the type only, as at the top level.
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    for error in errors:
        if error.validator in ("enum", "const") and tuple(error.absolute_path) in mistyped:
            continue
        kinds |= _error_kinds(error, expected_value)
    if kinds:
        return kinds
    assert wrong_field is not None
    return {wrong_field}


def _diagnose(obj: dict[str, Any], gold: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Key, type, enum and value failures of a (possibly recovered) object against gold."""
    props = _properties(schema)
    required = set(schema.get("required", []))
    wrong_fields = _wrong_field_kinds(schema)
    kinds: set[str] = set()
    if any(key not in props for key in obj):
        kinds.add("extra_key")
    for name, sub in props.items():
        expected = gold.get(name, _MISSING)
        if name not in obj:
            if name in required or expected is not _MISSING:
                kinds.add("missing_key")
            continue
        if expected is not _MISSING and json_equal(obj[name], expected):
            continue
        kinds |= _diagnose_value(obj[name], expected, sub, wrong_fields.get(name))
    if not kinds and json_equal(obj, gold) and list(obj) != list(canonical(gold, schema)):
        kinds.add("wrong_key_order")
    return kinds


def _field_ok(parsed: dict[str, Any], gold: dict[str, Any], name: str) -> bool:
    # An optional field absent from both is right: there was nothing to extract.
    if name not in parsed or name not in gold:
        return name not in parsed and name not in gold
    return json_equal(parsed[name], gold[name])


def _item_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def _item_counts(parsed: dict[str, Any] | None, gold: dict[str, Any], name: str) -> tuple[int, int, int]:
    """(matched, predicted, gold) distinct items of an array field; a missing or non-array value predicts none."""
    pred = parsed.get(name) if parsed is not None else None
    pred_set = {_item_key(x) for x in pred} if isinstance(pred, list) else set()
    gold_value = gold.get(name)
    gold_set = {_item_key(x) for x in gold_value} if isinstance(gold_value, list) else set()
    return len(pred_set & gold_set), len(pred_set), len(gold_set)


def _is_array(sub: dict[str, Any]) -> bool:
    types = sub.get("type")
    return types == "array" or (isinstance(types, list) and "array" in types)


def _leaf_paths(sub: dict[str, Any], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Leaf property paths below an object field that declares ``properties`` (depth-first, schema order)."""
    props = sub.get("properties")
    if not isinstance(props, dict):
        return [prefix]
    paths: list[tuple[str, ...]] = []
    for child, child_sub in props.items():
        paths += _leaf_paths(child_sub if isinstance(child_sub, dict) else {}, (*prefix, child))
    return paths


def _nested_leaves(schema: dict[str, Any]) -> list[tuple[str, ...]]:
    return [path for name, sub in _properties(schema).items() if isinstance(sub.get("properties"), dict)
            for path in _leaf_paths(sub, (name,))]


def _leaf_ok(parsed: dict[str, Any] | None, gold: dict[str, Any], path: tuple[str, ...]) -> bool:
    if parsed is None:
        return False
    got, want = _at(parsed, path), _at(gold, path)
    if got is _MISSING or want is _MISSING:
        return got is _MISSING and want is _MISSING
    return json_equal(got, want)


def score_output(raw: str, gold: dict[str, Any], schema: dict[str, Any]) -> OutputScore:
    """Score one raw generation against its gold object."""
    names = field_names(schema)
    parsed = parse_output(raw)
    if parsed is not None:
        recovered, kinds = parsed, set()
    elif len(raw) > MAX_CHARS:
        recovered, kinds = None, {"not_json"}
    else:
        recovered, kinds = _recover(raw.strip())
    if recovered is not None:
        kinds |= _diagnose(recovered, gold, schema)

    json_valid = parsed is not None
    fields = {name: parsed is not None and _field_ok(parsed, gold, name) for name in names}
    if names:
        field_accuracy = sum(fields.values()) / len(names)
    else:
        field_accuracy = float(json_valid)
    return OutputScore(
        json_valid=json_valid,
        schema_valid=parsed is not None and is_valid(parsed, schema),
        fields=fields,
        field_accuracy=field_accuracy,
        exact_match=parsed is not None and _same_items(parsed, canonical(gold, schema)),
        failures=tuple(kind for kind in failure_kinds(schema) if kind in kinds),
        parsed=parsed,
        recovered=recovered,
        items={name: _item_counts(parsed, gold, name) for name, sub in _properties(schema).items() if _is_array(sub)},
        subfields={".".join(path): _leaf_ok(parsed, gold, path) for path in _nested_leaves(schema)},
    )


def _rate(numerator: float, n: int) -> float:
    return round(numerator / n, 4)


def _set_scores(counts: Sequence[tuple[int, int, int]]) -> dict[str, float]:
    """Micro-averaged set precision/recall/F1 over outputs; an empty side counts as perfect only if both are."""
    matched, predicted, expected = (sum(c[i] for c in counts) for i in range(3))
    precision = matched / predicted if predicted else float(expected == 0)
    recall = matched / expected if expected else float(predicted == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def aggregate(scores: Sequence[OutputScore], schema: dict[str, Any]) -> dict[str, Any]:
    """Corpus-level rates plus a count for every failure kind (zeros kept so reports line up).

    Schemas with array fields also get ``array_fields`` (set precision/recall/F1 of the items; the exact,
    order-sensitive list accuracy is ``per_field``), and schemas with nested objects ``nested_fields``
    (accuracy per leaf path). Neither key appears for flat scalar schemas.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("cannot aggregate zero scores: every rate would be 0/0")
    names = field_names(schema)
    counts = dict.fromkeys(failure_kinds(schema), 0)
    for score in scores:
        if set(score.fields) != set(names):
            raise ValueError(f"score fields {sorted(score.fields)} do not match the schema's {names}")
        for kind in score.failures:
            if kind not in counts:
                raise ValueError(f"failure kind {kind!r} is not one this schema produces")
            counts[kind] += 1
    result = {
        "n": n,
        "json_validity": _rate(sum(s.json_valid for s in scores), n),
        "schema_validity": _rate(sum(s.schema_valid for s in scores), n),
        "field_accuracy": _rate(sum(s.field_accuracy for s in scores), n),
        "exact_match": _rate(sum(s.exact_match for s in scores), n),
        "per_field": {name: _rate(sum(s.fields[name] for s in scores), n) for name in names},
        "failures": counts,
    }
    arrays = [name for name, sub in _properties(schema).items() if _is_array(sub)]
    if arrays:
        result["array_fields"] = {name: _set_scores([s.items[name] for s in scores]) for name in arrays}
    leaves = [".".join(p) for p in _nested_leaves(schema)]
    if leaves:
        result["nested_fields"] = {leaf: _rate(sum(s.subfields[leaf] for s in scores), n) for leaf in leaves}
    return result
