"""The JSON contract: loading a task's JSON Schema, validating objects, canonical serialisation.

The schema file is the single source of truth; field order for canonical output is the order of
``properties`` in that file.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

PACKAGE_DIR = Path(__file__).resolve().parent
TASKS_DIR = PACKAGE_DIR / "tasks"


class SchemaFileError(ValueError):
    """A task schema file that is missing, not JSON, or not a usable JSON Schema for an object."""


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read a JSON Schema file and check that it is itself a valid schema for an object."""
    path = Path(path)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaFileError(f"{path}: schema file not found") from None
    except json.JSONDecodeError as exc:
        raise SchemaFileError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    return checked_schema(schema, str(path))


def checked_schema(schema: Any, where: str) -> dict[str, Any]:
    """``schema`` if it is a valid JSON Schema for an object with ``properties``; errors name ``where``."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaFileError(f"{where}: not a valid JSON Schema: {exc.message}") from None
    if not isinstance(schema, dict) or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise SchemaFileError(f"{where}: the schema must describe an object with 'properties'")
    return schema


def field_names(schema: dict[str, Any]) -> list[str]:
    """Top-level field names in canonical (schema) order."""
    return list(schema["properties"])


@lru_cache(maxsize=16)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """A cached validator; schemas are small so keying on their JSON text is cheap."""
    return _validator(json.dumps(schema, sort_keys=True))


def schema_errors(obj: Any, schema: dict[str, Any]) -> list[str]:
    """Human-readable ``field: reason`` strings, one per violation; empty when valid."""
    errors = []
    for err in sorted(validator_for(schema).iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path) or "(root)"
        errors.append(f"{where}: {err.message}")
    return errors


def is_valid(obj: Any, schema: dict[str, Any]) -> bool:
    return validator_for(schema).is_valid(obj)


def canonical(obj: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The same object with keys in schema order (unknown keys, if any, keep their order at the end)."""
    names = field_names(schema)
    ordered = {k: obj[k] for k in names if k in obj}
    ordered.update({k: v for k, v in obj.items() if k not in ordered})
    return ordered


def canonical_json(obj: dict[str, Any], schema: dict[str, Any]) -> str:
    """The one serialisation the model is trained to emit: schema key order, one line, UTF-8 kept."""
    return json.dumps(canonical(obj, schema), ensure_ascii=False)
