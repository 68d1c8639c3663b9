"""The JSON contract: schema loading, validation messages and the one canonical serialisation."""

from __future__ import annotations

import json

import pytest

from jsontune.schema import (
    TASKS_DIR,
    SchemaFileError,
    canonical,
    canonical_json,
    field_names,
    is_valid,
    load_schema,
    schema_errors,
)

SCHEMA_PATH = TASKS_DIR / "support_ticket" / "schema.json"
INTENTS = ["ORDER_STATUS", "CANCEL_ORDER", "CHANGE_ORDER", "REFUND", "RETURN", "DELIVERY_ISSUE",
           "PAYMENT_ISSUE", "ACCOUNT", "PRODUCT_INFO", "COMPLAINT", "OTHER"]


def test_support_ticket_schema_loads(schema):
    assert load_schema(SCHEMA_PATH) == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert field_names(schema) == ["intent", "urgency", "order_id"]
    assert schema["properties"]["intent"]["enum"] == INTENTS
    assert schema["properties"]["urgency"]["enum"] == ["LOW", "MEDIUM", "HIGH"]


# ---------------------------------------------------------------- canonical form


def test_canonical_json_exact_string(schema):
    obj = {"order_id": None, "urgency": "HIGH", "intent": "REFUND"}
    assert canonical_json(obj, schema) == '{"intent": "REFUND", "urgency": "HIGH", "order_id": null}'


def test_canonical_json_with_order_id(schema):
    obj = {"urgency": "LOW", "order_id": "ORD-2024-000123", "intent": "ORDER_STATUS"}
    assert canonical_json(obj, schema) == '{"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": "ORD-2024-000123"}'


def test_canonical_json_keeps_non_ascii(schema):
    obj = {"order_id": "Zoë-ß", "intent": "OTHER", "urgency": "LOW"}
    out = canonical_json(obj, schema)
    assert out == '{"intent": "OTHER", "urgency": "LOW", "order_id": "Zoë-ß"}'
    assert "\\u" not in out
    assert json.loads(out) == obj


def test_canonical_json_is_one_line(schema):
    obj = {"intent": "OTHER", "urgency": "LOW", "order_id": "a\nb"}
    out = canonical_json(obj, schema)
    assert "\n" not in out
    assert out == '{"intent": "OTHER", "urgency": "LOW", "order_id": "a\\nb"}'


def test_canonical_orders_keys_and_keeps_unknown_keys_last(schema):
    obj = {"zeta": 1, "order_id": None, "alpha": 2, "intent": "REFUND", "urgency": "LOW"}
    out = canonical(obj, schema)
    assert list(out) == ["intent", "urgency", "order_id", "zeta", "alpha"]
    assert out == obj
    assert list(obj) == ["zeta", "order_id", "alpha", "intent", "urgency"]  # input not mutated


def test_canonical_with_missing_fields(schema):
    assert list(canonical({"urgency": "LOW"}, schema)) == ["urgency"]
    assert canonical_json({}, schema) == "{}"


# ---------------------------------------------------------------- validation


def test_valid_object_has_no_errors(schema):
    obj = {"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"}
    assert schema_errors(obj, schema) == []
    assert is_valid(obj, schema)
    assert is_valid({"intent": "OTHER", "urgency": "LOW", "order_id": None}, schema)


def test_bad_enum_names_the_field(schema):
    errors = schema_errors({"intent": "refund", "urgency": "HIGH", "order_id": None}, schema)
    assert errors == [f"intent: 'refund' is not one of {INTENTS}"]
    assert not is_valid({"intent": "refund", "urgency": "HIGH", "order_id": None}, schema)


def test_order_id_pattern_names_the_field(schema):
    errors = schema_errors({"intent": "REFUND", "urgency": "HIGH", "order_id": "#A12345"}, schema)
    assert errors == ["order_id: '#A12345' does not match '^[A-Za-z0-9][A-Za-z0-9-]*$'"]


def test_wrong_type_names_the_field(schema):
    errors = schema_errors({"intent": "REFUND", "urgency": "HIGH", "order_id": 12345}, schema)
    assert errors == ["order_id: 12345 is not of type 'string', 'null'"]


def test_missing_and_extra_keys_are_root_errors(schema):
    errors = schema_errors({"intent": "REFUND", "urgency": "HIGH", "extra": 1}, schema)
    assert sorted(errors) == [
        "(root): 'order_id' is a required property",
        "(root): Additional properties are not allowed ('extra' was unexpected)",
    ]


def test_several_errors_are_all_reported_sorted_by_field(schema):
    errors = schema_errors({"urgency": "SOON", "intent": "X", "order_id": "#1"}, schema)
    assert [e.split(":")[0] for e in errors] == ["intent", "order_id", "urgency"]
    assert len(errors) == 3


def test_non_object_is_a_root_error(schema):
    assert schema_errors(["REFUND"], schema) == ["(root): ['REFUND'] is not of type 'object'"]
    assert not is_valid(None, schema)


# ---------------------------------------------------------------- load_schema errors


def test_load_schema_missing_file(tmp_path):
    path = tmp_path / "missing.json"
    with pytest.raises(SchemaFileError) as info:
        load_schema(path)
    assert str(info.value) == f"{path}: schema file not found"


def test_load_schema_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "type": "object",\n  "properties": {,}\n}\n', encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_schema(path)
    assert str(info.value) == f"{path}:3: not valid JSON: Expecting property name enclosed in double quotes"


@pytest.mark.parametrize(
    "schema_obj",
    [
        {"type": "array", "items": {"type": "string"}},
        {"type": "object"},
        {"properties": {"a": {"type": "string"}}},
    ],
    ids=["array", "no-properties", "no-type"],
)
def test_load_schema_rejects_non_object_schema(tmp_path, schema_obj):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema_obj), encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_schema(path)
    assert str(info.value) == f"{path}: the schema must describe an object with 'properties'"


def test_load_schema_rejects_boolean_schema(tmp_path):
    """``true`` is a valid JSON Schema but not an object schema: it must be the same ValueError naming
    the file, not an AttributeError from ``True.get``."""
    path = tmp_path / "schema.json"
    path.write_text("true", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_schema(path)
    assert str(info.value) == f"{path}: the schema must describe an object with 'properties'"


@pytest.mark.parametrize(
    "text",
    ["[1, 2]", '"object"', '{"type": "object", "properties": {"a": {"type": "nope"}}}'],
    ids=["list", "string", "bad-type-keyword"],
)
def test_load_schema_rejects_invalid_json_schema(tmp_path, text):
    path = tmp_path / "schema.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemaFileError) as info:
        load_schema(path)
    assert str(info.value).startswith(f"{path}: ")
