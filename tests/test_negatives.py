"""Every hard negative must be wrong in exactly one way, and the metrics must name that way."""

from __future__ import annotations

import json
import random

import pytest

import jsontune.schema
from jsontune.metrics import score_output
from jsontune.negatives import NEGATIVE_KINDS, hard_negatives, sample_negatives
from jsontune.schema import canonical, canonical_json, load_schema
from jsontune.tasks import load_task

SCHEMA = load_schema(jsontune.schema.TASKS_DIR / "support_ticket" / "schema.json")
RULES = load_task("support_ticket").confusable

CASES = [
    (
        {"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"},
        "Hi, I was charged $49.99 twice for order #A12345 on 2024-03-12. Call me at 555-123-4567. "
        "I want my money back now!",
    ),
    (
        {"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": None},
        "Hey, just wondering when my package will arrive? I ordered it on 12/03/2024. Thanks!",
    ),
    (
        {"intent": "DELIVERY_ISSUE", "urgency": "MEDIUM", "order_id": "789456123"},
        "Tracking number 1Z999AA10123456784 says delivered but nothing arrived. Order 789456123.",
    ),
    (
        {"intent": "CANCEL_ORDER", "urgency": "HIGH", "order_id": "ORD-2024-5567"},
        "Please cancel ORD-2024-5567 before it ships tomorrow. My phone is +1 (555) 010-9999.",
    ),
    ({"intent": "COMPLAINT", "urgency": "MEDIUM", "order_id": None}, "Your customer service is terrible."),
    ({"intent": "OTHER", "urgency": "LOW", "order_id": None}, "Bonjour, livrez-vous à Genève ? Merci, Zoë"),
]
CASE_IDS = [f"case{i}" for i in range(len(CASES))]

# The failure kind score_output must report for each negative kind, and nothing else.
EXPECTED_FAILURE = {
    "markdown_fence": "markdown_fence",
    "prose_wrapper": "prose_wrapper",
    "extra_key": "extra_key",
    "missing_key": "missing_key",
    "wrong_enum_case": "wrong_enum_case",
    "wrong_enum_value": "wrong_enum_value",
    "hash_prefix": "invalid_format",
    "invalid_format": "invalid_format",
    "wrong_value": "wrong_order_id",
    "wrong_type": "wrong_type",
    "out_of_range": "out_of_range",
    "duplicate_item": "duplicate_item",
    "wrong_key_order": "wrong_key_order",
}
WRAPPED = {"markdown_fence", "prose_wrapper"}
ONE_FIELD_WRONG = {
    "missing_key",
    "wrong_enum_case",
    "wrong_enum_value",
    "hash_prefix",
    "invalid_format",
    "wrong_value",
    "wrong_type",
    "out_of_range",
    "duplicate_item",
}


def test_kind_tables_agree():
    assert set(EXPECTED_FAILURE) == set(NEGATIVE_KINDS)
    assert set(NEGATIVE_KINDS) == WRAPPED | ONE_FIELD_WRONG | {"extra_key", "wrong_key_order"}


@pytest.mark.parametrize(("gold", "text"), CASES, ids=CASE_IDS)
def test_every_negative_has_exactly_one_flaw(gold, text):
    chosen = canonical_json(gold, SCHEMA)
    negatives = hard_negatives(gold, text, SCHEMA, RULES)
    assert len({raw for _, raw in negatives}) == len(negatives)
    for kind, raw in negatives:
        assert raw != chosen, kind
        s = score_output(raw, gold, SCHEMA)
        assert not s.exact_match, raw
        assert s.failures == (EXPECTED_FAILURE[kind],), raw
        assert s.recovered is not None, raw
        if kind in WRAPPED:
            assert not s.json_valid
            assert list(s.recovered.items()) == list(canonical(gold, SCHEMA).items()), raw
            continue
        assert "\n" not in raw
        assert raw == json.dumps(json.loads(raw), ensure_ascii=False), raw
        assert s.json_valid
        if kind in ONE_FIELD_WRONG:
            assert s.field_accuracy == pytest.approx(2 / 3), raw
            assert list(s.fields.values()).count(False) == 1, raw
        else:
            assert s.field_accuracy == 1.0, raw
            assert dict(s.fields) == {name: True for name in gold}


def test_all_kinds_are_exercised_by_the_cases():
    seen = {kind for gold, text in CASES for kind, _ in hard_negatives(gold, text, SCHEMA, RULES)}
    seen |= {kind for gold, text in PROFILE_CASES for kind, _ in hard_negatives(gold, text, PROFILE.schema)}
    assert seen == set(NEGATIVE_KINDS)


def test_negatives_are_deterministic_and_in_kind_order():
    gold, text = CASES[0]
    first = hard_negatives(gold, text, SCHEMA)
    assert first == hard_negatives(dict(gold), text, SCHEMA)
    kinds = [kind for kind, _ in first]
    assert kinds == sorted(kinds, key=NEGATIVE_KINDS.index)


def by_kind(gold: dict, text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, raw in hard_negatives(gold, text, SCHEMA, RULES):
        out.setdefault(kind, []).append(raw)
    return out


def order_ids(raws: list[str]) -> list:
    return [json.loads(raw)["order_id"] for raw in raws]


def test_wrong_value_copies_distractors_from_the_text():
    gold, text = CASES[0]
    assert order_ids(by_kind(gold, text)["wrong_value"]) == ["2024-03-12", "555-123-4567", None]
    gold, text = CASES[2]
    assert order_ids(by_kind(gold, text)["wrong_value"]) == ["1Z999AA10123456784", None]
    gold, text = CASES[3]
    assert order_ids(by_kind(gold, text)["wrong_value"]) == ["555", "010-9999", None]


def test_wrong_value_hallucinates_an_id_when_gold_is_null():
    gold, text = CASES[1]
    assert order_ids(by_kind(gold, text)["wrong_value"]) == ["2024"]
    gold, text = CASES[4]
    invented = order_ids(by_kind(gold, text)["wrong_value"])
    assert len(invented) == 1 and isinstance(invented[0], str) and invented[0] not in text


def test_distractors_skip_case_variants_of_gold_and_are_capped():
    gold = {"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"}
    text = "order a12345 (A12345), calls: 111-1111 222-2222 333-3333 444-4444 555-5555 666-6666"
    assert order_ids(by_kind(gold, text)["wrong_value"]) == [
        "111-1111",
        "222-2222",
        "333-3333",
        "444-4444",
        "555-5555",
        None,
    ]


def test_specific_variants():
    gold, text = CASES[0]
    kinds = by_kind(gold, text)
    assert kinds["hash_prefix"] == ['{"intent": "REFUND", "urgency": "HIGH", "order_id": "#A12345"}']
    assert kinds["markdown_fence"][0] == f"```json\n{canonical_json(gold, SCHEMA)}\n```"
    assert kinds["prose_wrapper"][0] == f"Here is the JSON: {canonical_json(gold, SCHEMA)}"
    assert [json.loads(r)["intent"] for r in kinds["wrong_enum_value"]][:2] == ["RETURN", "PAYMENT_ISSUE"]
    assert json.loads(kinds["wrong_enum_value"][2])["urgency"] == "MEDIUM"
    assert "wrong_type" not in kinds  # "A12345" is not numeric, and null is not the gold value
    assert [list(json.loads(r)) for r in kinds["missing_key"]] == [
        ["urgency", "order_id"],
        ["intent", "order_id"],
        ["intent", "urgency"],
    ]
    gold, text = CASES[2]
    assert by_kind(gold, text)["wrong_type"] == [
        '{"intent": "DELIVERY_ISSUE", "urgency": "MEDIUM", "order_id": 789456123}'
    ]
    assert json.loads(by_kind(*CASES[1])["wrong_type"][0])["order_id"] == "null"


def test_no_hash_prefix_or_numeric_type_when_gold_is_null():
    kinds = by_kind(*CASES[4])
    assert "hash_prefix" not in kinds
    assert order_ids(kinds["wrong_type"]) == ["null"]


def test_other_schema_and_unicode():
    schema = {
        "type": "object",
        "properties": {
            "priority": {"type": "string", "enum": ["P1", "P2"]},
            "city": {"type": ["string", "null"]},
        },
        "required": ["priority", "city"],
        "additionalProperties": False,
    }
    gold = {"priority": "P1", "city": "Genève"}
    negatives = hard_negatives(gold, "Livraison à Genève, colis 88231 perdu", schema)
    for kind, raw in negatives:
        if kind not in WRAPPED:
            assert raw == json.dumps(json.loads(raw), ensure_ascii=False)
        expected = "wrong_city" if kind == "wrong_value" else EXPECTED_FAILURE[kind]
        assert score_output(raw, gold, schema).failures == (expected,), raw
    kinds = {kind for kind, _ in negatives}
    assert "Genève" in negatives[0][1]
    assert "hash_prefix" not in kinds  # city has no pattern, so a '#' would be a legal value
    assert ("wrong_enum_case", '{"priority": "p1", "city": "Genève"}') in negatives
    assert ("wrong_value", '{"priority": "P1", "city": "genève"}') in negatives
    assert ("wrong_value", '{"priority": "P1", "city": "88231"}') not in negatives  # no number for a name
    assert ("wrong_enum_value", '{"priority": "P2", "city": "Genève"}') in negatives


def test_invalid_gold_is_rejected():
    with pytest.raises(ValueError, match="schema"):
        hard_negatives({"intent": "refund", "urgency": "HIGH", "order_id": None}, "", SCHEMA)


def test_sample_negatives_is_deterministic_with_distinct_kinds():
    gold, text = CASES[0]
    first = sample_negatives(gold, text, SCHEMA, 4, random.Random(7))
    assert first == sample_negatives(gold, text, SCHEMA, 4, random.Random(7))
    assert len(first) == 4
    assert len({kind for kind, _ in first}) == 4
    assert set(first) <= set(hard_negatives(gold, text, SCHEMA))
    kind_sets = {
        frozenset(kind for kind, _ in sample_negatives(gold, text, SCHEMA, 4, random.Random(seed)))
        for seed in range(20)
    }
    assert len(kind_sets) > 1


def test_sample_negatives_caps_at_available_kinds():
    gold, text = CASES[4]
    available = {kind for kind, _ in hard_negatives(gold, text, SCHEMA)}
    sampled = sample_negatives(gold, text, SCHEMA, 50, random.Random(0))
    assert {kind for kind, _ in sampled} == available
    assert len(sampled) == len(available)
    assert sample_negatives(gold, text, SCHEMA, 0, random.Random(0)) == []
    with pytest.raises(ValueError):
        sample_negatives(gold, text, SCHEMA, -1, random.Random(0))


# ---------------------------------------------------------------- user_profile: integers, arrays, nulls, emails

PROFILE = load_task("user_profile")
PROFILE_CASES = [
    (
        {"full_name": "Priya Raman", "email": "priya.raman@gmail.com", "years_of_experience": 8,
         "skills": ["Python", "SQL", "PyTorch"], "primary_role": "Data Scientist"},
        "I'm Priya Raman, 34, a data scientist with 8 years of experience in Python, SQL and PyTorch. "
        "I lead a team of 5. Mentored by Tom Baker. Currently learning Rust. Reach me at priya.raman@gmail.com.",
    ),
    (
        {"full_name": "José Álvarez", "email": None, "years_of_experience": 0, "skills": [],
         "primary_role": "Product Manager"},
        "José Álvarez is a product manager with less than a year of experience. Team inbox: team@acme.io.",
    ),
    (
        {"full_name": "Ana M. Souza", "email": None, "years_of_experience": 12, "skills": ["JavaScript"],
         "primary_role": "Frontend Engineer"},
        "Ana M. Souza, frontend engineer, twelve years, JavaScript all day. Graduated in 2011.",
    ),
]
PROFILE_FAILURE = {**EXPECTED_FAILURE, "hash_prefix": "invalid_format"}
# A wrong value is reported as wrong_<field>, whichever field it is in.
PROFILE_FIELDS = ["full_name", "email", "years_of_experience", "skills", "primary_role"]


@pytest.mark.parametrize(("gold", "text"), PROFILE_CASES, ids=["full", "nulls", "initial"])
def test_profile_negatives_have_exactly_one_flaw(gold, text):
    schema = PROFILE.schema
    negatives = hard_negatives(gold, text, schema, PROFILE.confusable)
    assert negatives
    for kind, raw in negatives:
        s = score_output(raw, gold, schema)
        assert not s.exact_match, raw
        if kind == "wrong_value":
            wrong = [name for name, ok in s.fields.items() if not ok]
            assert len(wrong) == 1 and s.failures == (f"wrong_{wrong[0]}",), raw
            assert s.schema_valid, raw
        else:
            assert s.failures == (PROFILE_FAILURE[kind],), raw
        if kind not in WRAPPED and kind not in ("extra_key", "wrong_key_order"):
            assert list(s.fields.values()).count(False) == 1, raw


def test_profile_negatives_are_plausible_slips():
    gold, text = PROFILE_CASES[0]
    kinds: dict[str, list[dict]] = {}
    for kind, raw in hard_negatives(gold, text, PROFILE.schema, PROFILE.confusable):
        if kind not in WRAPPED:
            kinds.setdefault(kind, []).append(json.loads(raw))
    years = [o["years_of_experience"] for o in kinds["wrong_value"] if o["years_of_experience"] != 8]
    assert years == [34, 5]  # the age and the team size from the text
    assert [o["years_of_experience"] for o in kinds["out_of_range"]] == [-1]
    assert [o["skills"] for o in kinds["duplicate_item"]] == [["Python", "SQL", "PyTorch", "PyTorch"]]
    assert [o["years_of_experience"] for o in kinds["wrong_type"] if o["years_of_experience"] != 8] == ["8"]
    skills = [o["skills"] for o in kinds["wrong_value"] if o["skills"] != gold["skills"]]
    assert ["Python", "SQL"] in skills  # one dropped
    assert ["SQL", "Python", "PyTorch"] in skills  # mention order broken
    assert ["Python", "SQL", "PyTorch", "Rust"] in skills  # a skill the person is only learning
    assert ["Python", "PostgreSQL", "PyTorch"] in skills  # confusable rule from negatives.json
    assert [o["skills"] for o in kinds["wrong_enum_case"] if o["skills"] != gold["skills"]] == [
        ["python", "SQL", "PyTorch"]]
    names = [o["full_name"] for o in kinds["wrong_value"] if o["full_name"] != gold["full_name"]]
    assert names == ["Priya", "priya raman", "Tom Baker"]  # first name only, lower case, the mentor
    emails = [o["email"] for o in kinds["wrong_value"] if o["email"] != gold["email"]]
    assert emails == [None]
    assert [o["email"] for o in kinds["invalid_format"]][0] == "mailto:priya.raman@gmail.com"
    roles = [o["primary_role"] for o in kinds["wrong_enum_value"]]
    assert roles == ["Backend Engineer", "Product Manager"]


def test_profile_null_email_gets_a_hallucinated_address_from_the_text():
    gold, text = PROFILE_CASES[1]
    by = {}
    for kind, raw in hard_negatives(gold, text, PROFILE.schema):
        by.setdefault(kind, []).append(raw)
    emails = [json.loads(r)["email"] for r in by["wrong_value"] if json.loads(r)["email"] is not None]
    assert emails == ["team@acme.io"]
    assert '"email": "null"' in " ".join(by["wrong_type"])
    assert all(json.loads(r)["full_name"] in ("José Álvarez", "José", "josé álvarez") for r in by["wrong_value"])
    added = [json.loads(r)["skills"] for r in by["wrong_value"] if json.loads(r)["skills"]]
    assert len(added) == 1 and len(added[0]) == 1  # an empty list gets one invented skill
    gold, text = PROFILE_CASES[2]
    emails = [json.loads(r)["email"] for k, r in hard_negatives(gold, text, PROFILE.schema) if k == "wrong_value"]
    invented = [e for e in emails if e is not None]
    assert len(invented) == 1 and invented[0] not in text and invented[0].endswith("@example.com")
