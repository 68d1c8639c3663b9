"""Hard negatives for DPO: the gold answer with exactly one subtle flaw.

A rejected answer that is wrong in many ways teaches little; one that differs from the chosen answer
by a single realistic mistake (a fence, a lowercased label, a number copied from the wrong place in
the message) pins the preference on exactly the behaviour we want to change.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

from jsontune.metrics import json_equal
from jsontune.schema import canonical, canonical_json, field_names, is_valid, schema_errors

NEGATIVE_KINDS: tuple[str, ...] = (
    "markdown_fence",
    "prose_wrapper",
    "extra_key",
    "missing_key",
    "wrong_enum_case",
    "wrong_enum_value",
    "hash_prefix",
    "wrong_value",
    "wrong_type",
    "wrong_key_order",
)

_CONFUSABLE_PAIRS = (
    ("REFUND", "RETURN"),
    ("CANCEL_ORDER", "CHANGE_ORDER"),
    ("ORDER_STATUS", "DELIVERY_ISSUE"),
    ("COMPLAINT", "DELIVERY_ISSUE"),
    ("REFUND", "PAYMENT_ISSUE"),
    ("ACCOUNT", "PAYMENT_ISSUE"),
    ("PRODUCT_INFO", "OTHER"),
    ("HIGH", "MEDIUM"),
    ("LOW", "MEDIUM"),
)
# Labels a model plausibly mixes up; used only when both values are allowed by the field's enum.
CONFUSABLE: dict[str, tuple[str, ...]] = {}
for _a, _b in _CONFUSABLE_PAIRS:
    CONFUSABLE[_a] = CONFUSABLE.get(_a, ()) + (_b,)
    CONFUSABLE[_b] = CONFUSABLE.get(_b, ()) + (_a,)

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
    """Values from the message that would pass the schema in ``name`` but are not the gold value."""
    expected = gold[name]
    folded = expected.casefold() if isinstance(expected, str) else None
    found: list[str] = []
    for token in _text_tokens(text):
        if len(found) >= _MAX_DISTRACTORS:
            break
        if not _number_like(token) or token in found or token.casefold() == folded:
            continue
        if is_valid({**gold, name: token}, schema):
            found.append(token)
    return found


def _invented_id(gold: dict[str, Any], name: str, text: str, schema: dict[str, Any]) -> str | None:
    rng = _stable_rng("invented", name, text)
    digits = str(rng.randrange(10**5, 10**6))
    for candidate in (digits, f"A{digits}", f"ORD-{digits}"):
        if is_valid({**gold, name: candidate}, schema):
            return candidate
    return None


def _replace(gold: dict[str, Any], name: str, value: Any, schema: dict[str, Any]) -> str:
    return _dumps(canonical({**gold, name: value}, schema))


def _enum_negatives(
    gold: dict[str, Any], name: str, enum: list[Any], text: str, schema: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    value = gold[name]
    if isinstance(value, str):
        lowered = value.lower()
        if lowered != value and not any(json_equal(lowered, member) for member in enum):
            yield "wrong_enum_case", _replace(gold, name, lowered, schema)
    others = [m for m in enum if not json_equal(m, value)]
    confusable = [m for m in CONFUSABLE.get(value, ()) if m in others] if isinstance(value, str) else []
    if confusable:
        for other in confusable:
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

    if "string" in types:
        if value is None:
            tokens = _distractors(gold, name, text, schema)
            invented = tokens or [_invented_id(gold, name, text, schema)]
            for token in invented:
                if token is not None:
                    yield "wrong_value", _replace(gold, name, token, schema)
        else:
            for token in _distractors(gold, name, text, schema):
                yield "wrong_value", _replace(gold, name, token, schema)
            if "null" in types:
                yield "wrong_value", _replace(gold, name, None, schema)

    if isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]{0,17}", value):
        if not is_valid({**gold, name: int(value)}, schema):
            yield "wrong_type", _replace(gold, name, int(value), schema)
    elif value is None and "string" in types:
        yield "wrong_type", _replace(gold, name, "null", schema)
    elif isinstance(value, (bool, int, float)) and "string" not in types:
        yield "wrong_type", _replace(gold, name, json.dumps(value), schema)


def _all_negatives(gold: dict[str, Any], text: str, schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
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
            yield from _enum_negatives(gold, name, sub["enum"], text, schema)
        else:
            yield from _value_negatives(gold, name, sub, text, schema)
    keys = list(ordered)
    for order in (sorted(keys), keys[::-1]):
        if order != keys:
            yield "wrong_key_order", _dumps({k: ordered[k] for k in order})


def hard_negatives(gold: dict[str, Any], text: str, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """All applicable (kind, rejected_raw_string) single-flaw variants of the canonical gold answer.

    Deterministic for a given input; a kind may have several variants (one per field or distractor).
    Gold must satisfy the schema, since it becomes the "chosen" side of the pair.
    """
    if not is_valid(gold, schema):
        raise ValueError(f"gold does not satisfy the schema: {schema_errors(gold, schema)}")
    unknown = [k for k in gold if k not in field_names(schema)]
    if unknown:
        raise ValueError(f"gold has keys outside the schema: {unknown}")
    chosen = canonical_json(gold, schema)
    seen: set[str] = {chosen}
    negatives = []
    for kind, rejected in _all_negatives(gold, text, schema):
        if rejected not in seen:
            seen.add(rejected)
            negatives.append((kind, rejected))
    return sorted(negatives, key=lambda pair: NEGATIVE_KINDS.index(pair[0]))


def sample_negatives(
    gold: dict[str, Any], text: str, schema: dict[str, Any], k: int, rng: random.Random
) -> list[tuple[str, str]]:
    """Up to ``k`` negatives of distinct kinds (fewer when fewer kinds apply), reproducible from ``rng``."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    by_kind: dict[str, list[str]] = {}
    for kind, rejected in hard_negatives(gold, text, schema):
        by_kind.setdefault(kind, []).append(rejected)
    kinds = rng.sample(list(by_kind), min(k, len(by_kind)))
    return [(kind, rng.choice(by_kind[kind])) for kind in kinds]
