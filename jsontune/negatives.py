"""Hard negatives for DPO: the gold answer with exactly one subtle flaw, derived from the schema.

A rejected answer that is wrong in many ways teaches little; one that differs from the chosen answer
by a single realistic mistake (a fence, a lowercased label, a number copied from the wrong place in
the message) pins the preference on exactly the behaviour we want to change. Every variant comes from
the JSON Schema (keys, enums, types, patterns, bounds, arrays) and the message text; the only task
rule is an optional table of confusable enum labels (``negatives.json`` in the task folder). Each
variant is scored with the metrics and kept only if it is not an exact match.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

from jsontune.metrics import json_equal, score_output
from jsontune.schema import canonical, canonical_json, field_names, is_valid, schema_errors

NEGATIVE_KINDS: tuple[str, ...] = (
    "markdown_fence",
    "prose_wrapper",
    "extra_key",
    "missing_key",
    "wrong_enum_case",
    "wrong_enum_value",
    "hash_prefix",
    "invalid_format",
    "wrong_value",
    "wrong_type",
    "out_of_range",
    "duplicate_item",
    "wrong_key_order",
)

Confusable = dict[str, tuple[str, ...]]
"""Enum labels a model plausibly mixes up (a task rule); used only when both are allowed by the enum."""

_EXTRA_KEYS: tuple[tuple[str, Any], ...] = (("confidence", 0.95), ("notes", ""), ("reasoning", ""))
_FENCES = ("```json\n{}\n```", "```\n{}\n```")
_PROSE = (
    "Here is the JSON: {}",
    "Sure! Here is the extracted data:\n{}",
    "{}\nLet me know if you need anything else.",
)
# Candidate distractors: word-like runs that may contain separators used in ids, dates and phones.
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9./:-]*[A-Za-z0-9])?")
_PIECE = re.compile(r"[A-Za-z0-9-]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_INTEGER = re.compile(r"(?<![\w.-])\d{1,9}(?![\w]|\.\d)")
_NAME_LIKE = re.compile(r"[^\W\d_]+(?:[ '.-]+[^\W\d_]+)*\.?")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][^\W\d_]+(?: [A-Z][^\W\d_]+)+")
_MAX_DISTRACTORS = 5


def _stable_rng(*parts: object) -> random.Random:
    """Per-example randomness that is reproducible across processes (str seeds do not use hash())."""
    return random.Random("\x1f".join(map(str, parts)))


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _types(sub: dict[str, Any]) -> list[str]:
    types = sub.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _number_like(token: str) -> bool:
    return len(token) >= 3 and sum(ch.isdigit() for ch in token) >= 2


def _text_tokens(text: str) -> Iterator[str]:
    """Number-like tokens in reading order; pieces of tokens that also hold '/', '.' or ':'."""
    for match in _TOKEN.finditer(text):
        token = match.group()
        yield token
        if _PIECE.fullmatch(token) is None:
            yield from _PIECE.findall(token)


def _distractors(gold: dict[str, Any], name: str, text: str, schema: dict[str, Any]) -> list[str]:
    """Values from the message that would pass the schema in ``name`` but are not the gold value:
    number-like tokens (ids, dates, phones), and e-mail addresses for fields with a pattern or format."""
    expected = gold[name]
    folded = expected.casefold() if isinstance(expected, str) else None
    found: list[str] = []
    sub = schema["properties"][name] if isinstance(schema["properties"][name], dict) else {}
    candidates = [t for t in _text_tokens(text) if _number_like(t)]
    if "pattern" in sub or "format" in sub:
        candidates += _EMAIL.findall(text)
    for token in candidates:
        if len(found) >= _MAX_DISTRACTORS:
            break
        if token in found or token.casefold() == folded:
            continue
        if is_valid({**gold, name: token}, schema):
            found.append(token)
    return found


def _invented_id(gold: dict[str, Any], name: str, text: str, schema: dict[str, Any]) -> str | None:
    rng = _stable_rng("invented", name, text)
    digits = str(rng.randrange(10**5, 10**6))
    for candidate in (digits, f"A{digits}", f"ORD-{digits}", f"user{digits}@example.com"):
        if is_valid({**gold, name: candidate}, schema):
            return candidate
    return None


def _replace(gold: dict[str, Any], name: str, value: Any, schema: dict[str, Any]) -> str:
    return _dumps(canonical({**gold, name: value}, schema))


def _enum_negatives(
    gold: dict[str, Any], name: str, enum: list[Any], text: str, schema: dict[str, Any], confusable: Confusable
) -> Iterator[tuple[str, str]]:
    value = gold[name]
    if isinstance(value, str):
        lowered = value.lower()
        if lowered != value and not any(json_equal(lowered, member) for member in enum):
            yield "wrong_enum_case", _replace(gold, name, lowered, schema)
    others = [m for m in enum if not json_equal(m, value)]
    mixed_up = [m for m in confusable.get(value, ()) if m in others] if isinstance(value, str) else []
    if mixed_up:
        for other in mixed_up:
            yield "wrong_enum_value", _replace(gold, name, other, schema)
    elif others:
        yield "wrong_enum_value", _replace(gold, name, _stable_rng(name, value, text).choice(others), schema)


def _value_negatives(
    gold: dict[str, Any], name: str, sub: dict[str, Any], text: str, schema: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    value = gold[name]
    types = _types(sub)
    pattern = sub.get("pattern")
    if isinstance(value, str) and pattern and not re.search(pattern, "#" + value):
        yield "hash_prefix", _replace(gold, name, "#" + value, schema)
    if isinstance(value, str) and "@" in value and (pattern or "format" in sub):
        for corrupt in (f"mailto:{value}", value.replace("@", " at ")):  # how addresses get mangled in prose
            if not is_valid({**gold, name: corrupt}, schema):
                yield "invalid_format", _replace(gold, name, corrupt, schema)
                break
    if isinstance(value, str) and _NAME_LIKE.fullmatch(value):
        yield from _name_negatives(gold, name, text, schema)

    if "string" in types:
        if value is None:
            tokens = _distractors(gold, name, text, schema)
            invented = tokens or [_invented_id(gold, name, text, schema)]
            for token in invented:
                if token is not None:
                    yield "wrong_value", _replace(gold, name, token, schema)
        else:
            # A number is no plausible slip for a name-like value ("Genève", "Priya Raman").
            if not _NAME_LIKE.fullmatch(value):
                for token in _distractors(gold, name, text, schema):
                    yield "wrong_value", _replace(gold, name, token, schema)
            if "null" in types:
                yield "wrong_value", _replace(gold, name, None, schema)

    if isinstance(value, int) and not isinstance(value, bool):
        yield from _integer_negatives(gold, name, sub, text, schema)

    if isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]{0,17}", value):
        if not is_valid({**gold, name: int(value)}, schema):
            yield "wrong_type", _replace(gold, name, int(value), schema)
    elif value is None and "string" in types:
        yield "wrong_type", _replace(gold, name, "null", schema)
    elif isinstance(value, (bool, int, float)) and "string" not in types:
        yield "wrong_type", _replace(gold, name, json.dumps(value), schema)


def _name_negatives(gold: dict[str, Any], name: str, text: str, schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Plausible slips on a name-like string: first word only, lower case, another name from the text."""
    value = gold[name]
    words = value.split()
    candidates = [words[0]] if len(words) > 1 else []
    candidates.append(value.lower())
    others = [m for m in _CAPITALISED_RUN.findall(text) if m.casefold() not in value.casefold()
              and value.casefold() not in m.casefold()]
    candidates += list(dict.fromkeys(others))[:2]
    for candidate in candidates:
        if candidate != value and is_valid({**gold, name: candidate}, schema):
            yield "wrong_value", _replace(gold, name, candidate, schema)


def _integer_negatives(
    gold: dict[str, Any], name: str, sub: dict[str, Any], text: str, schema: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    """Another number from the text (an age, a team size, a year), an off-by-one, a bound broken."""
    value = gold[name]
    numbers = list(dict.fromkeys(int(m) for m in _INTEGER.findall(text)))
    picked = [n for n in numbers if n != value and is_valid({**gold, name: n}, schema)][:_MAX_DISTRACTORS]
    for number in picked or [value + 1]:
        if is_valid({**gold, name: number}, schema):
            yield "wrong_value", _replace(gold, name, number, schema)
    for bound, step in (("minimum", -1), ("exclusiveMinimum", 0), ("maximum", 1), ("exclusiveMaximum", 0)):
        limit = sub.get(bound)
        if isinstance(limit, int) and not isinstance(limit, bool):
            yield "out_of_range", _replace(gold, name, limit + step, schema)


def _item_enum(sub: dict[str, Any]) -> list[Any]:
    items = sub.get("items")
    return list(items["enum"]) if isinstance(items, dict) and isinstance(items.get("enum"), list) else []


def _array_negatives(
    gold: dict[str, Any], name: str, sub: dict[str, Any], text: str, schema: dict[str, Any], confusable: Confusable
) -> Iterator[tuple[str, str]]:
    """Lists: an item dropped, an extra item the text mentions, items out of order, one item confused or
    lower-cased, the list written as one string."""
    value = list(gold[name])
    enum = _item_enum(sub)
    if value:
        yield "wrong_value", _replace(gold, name, value[:-1], schema)
    if len(value) >= 2:
        yield "wrong_value", _replace(gold, name, [value[1], value[0], *value[2:]], schema)
    mentioned = [m for m in enum if isinstance(m, str) and m not in value
                 and re.search(rf"(?<![\w+#.-]){re.escape(m)}(?![\w+#])", text, re.IGNORECASE)]
    extra = mentioned[:1] or [m for m in enum if m not in value][:1]
    for item in extra:
        yield "wrong_value", _replace(gold, name, [*value, item], schema)
    for i, item in enumerate(value):
        swaps = [m for m in confusable.get(item, ()) if m in enum and m not in value] if isinstance(item, str) else []
        if swaps:
            yield "wrong_value", _replace(gold, name, [*value[:i], swaps[0], *value[i + 1:]], schema)
            break
    for i, item in enumerate(value):
        if isinstance(item, str) and enum and item.lower() != item and item.lower() not in enum:
            yield "wrong_enum_case", _replace(gold, name, [*value[:i], item.lower(), *value[i + 1:]], schema)
            break
    if sub.get("uniqueItems") is True and value:
        # An item repeated (a skill listed twice); at maxItems the last item is overwritten instead.
        repeated = [*value, value[-1]]
        if isinstance(sub.get("maxItems"), int) and len(repeated) > sub["maxItems"]:
            repeated = [*value[:-1], value[0]] if len(value) >= 2 else []
        if repeated:
            yield "duplicate_item", _replace(gold, name, repeated, schema)
    if value and all(isinstance(item, str) for item in value):
        yield "wrong_type", _replace(gold, name, ", ".join(value), schema)


def _all_negatives(
    gold: dict[str, Any], text: str, schema: dict[str, Any], confusable: Confusable
) -> Iterator[tuple[str, str]]:
    props = {k: v if isinstance(v, dict) else {} for k, v in schema["properties"].items()}
    ordered = canonical(gold, schema)
    chosen = _dumps(ordered)
    for template in _FENCES:
        yield "markdown_fence", template.format(chosen)
    for template in _PROSE:
        yield "prose_wrapper", template.format(chosen)
    for key, value in _EXTRA_KEYS:
        if key not in props and key not in gold:
            yield "extra_key", _dumps({**ordered, key: value})
    for name in schema.get("required", []):
        if name in ordered:
            yield "missing_key", _dumps({k: v for k, v in ordered.items() if k != name})
    for name, sub in props.items():
        if name not in gold:
            continue
        if "enum" in sub:
            yield from _enum_negatives(gold, name, sub["enum"], text, schema, confusable)
        elif isinstance(gold[name], list):
            yield from _array_negatives(gold, name, sub, text, schema, confusable)
        else:
            yield from _value_negatives(gold, name, sub, text, schema)
    keys = list(ordered)
    for order in (sorted(keys), keys[::-1]):
        if order != keys:
            yield "wrong_key_order", _dumps({k: ordered[k] for k in order})


def hard_negatives(
    gold: dict[str, Any], text: str, schema: dict[str, Any], confusable: Confusable | None = None
) -> list[tuple[str, str]]:
    """All applicable (kind, rejected_raw_string) single-flaw variants of the canonical gold answer.

    Deterministic for a given input; a kind may have several variants (one per field or distractor).
    Gold must satisfy the schema, since it becomes the "chosen" side of the pair; a variant that the
    metrics would score as an exact match is not a negative and is skipped.
    """
    if not is_valid(gold, schema):
        raise ValueError(f"gold does not satisfy the schema: {schema_errors(gold, schema)}")
    unknown = [k for k in gold if k not in field_names(schema)]
    if unknown:
        raise ValueError(f"gold has keys outside the schema: {unknown}")
    chosen = canonical_json(gold, schema)
    seen: set[str] = {chosen}
    negatives = []
    for kind, rejected in _all_negatives(gold, text, schema, confusable or {}):
        if rejected not in seen and not score_output(rejected, gold, schema).exact_match:
            seen.add(rejected)
            negatives.append((kind, rejected))
    return sorted(negatives, key=lambda pair: NEGATIVE_KINDS.index(pair[0]))


def sample_negatives(
    gold: dict[str, Any], text: str, schema: dict[str, Any], k: int, rng: random.Random,
    confusable: Confusable | None = None,
) -> list[tuple[str, str]]:
    """Up to ``k`` negatives of distinct kinds (fewer when fewer kinds apply), reproducible from ``rng``."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    by_kind: dict[str, list[str]] = {}
    for kind, rejected in hard_negatives(gold, text, schema, confusable):
        by_kind.setdefault(kind, []).append(rejected)
    kinds = rng.sample(list(by_kind), min(k, len(by_kind)))
    return [(kind, rng.choice(by_kind[kind])) for kind in kinds]
