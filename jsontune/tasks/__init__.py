"""Tasks: a task is a folder, and everything downstream is driven by what is in it.

    schema.json          required: the JSON Schema of one answer (an object with ``properties``)
    system_prompt.txt    optional: the system prompt (default: one built from the schema's keys)
    data.jsonl           optional: labelled rows ``{"text": ..., "output": {...}}``
    generator.py         optional: ``generate(n, seed, template_ids)`` and ``templates()`` for synthetic data,
                         plus, if wanted, ``train_only_templates()``: ids that only ever go to the train split
    negatives.json       optional: task rules for DPO negatives, ``{"confusable": [["A", "B"], ...]}``
    extra/*.jsonl        optional: hand-labelled test sets, scored with every stage (like ``eval.extra_sets``)

``task.name`` in ``params.yaml`` is either a built-in task (a folder of this package, e.g. ``support_ticket``)
or the path of a task folder (e.g. ``tasks/my_task``); a task needs data.jsonl or generator.py.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from jsontune.schema import TASKS_DIR, SchemaFileError, checked_schema, field_names, load_schema

SCHEMA_FILE = "schema.json"
PROMPT_FILE = "system_prompt.txt"
DATA_FILE = "data.jsonl"
GENERATOR_FILE = "generator.py"
RULES_FILE = "negatives.json"
EXTRA_DIR = "extra"
MODEL_TASK_FILE = "jsontune_task.json"
_BUILT_IN_NAME = re.compile(r"[a-z][a-z0-9_]*")
_MAX_PROMPT_CHARS = 20_000


class TaskError(ValueError):
    """A task that cannot be used: unknown name, missing folder or files, bad rules; names the path."""


@dataclass(frozen=True)
class Task:
    """A resolved task: the parsed schema and what the folder provides."""

    name: str
    folder: Path
    schema: dict[str, Any]
    system_prompt: str
    data_path: Path | None = None
    generator: ModuleType | None = field(default=None, compare=False, repr=False)
    confusable: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Enum labels a model plausibly mixes up (task rule for DPO negatives); empty = no preference."""
    extra_sets: tuple[Path, ...] = ()
    """The task's own labelled test sets (``extra/*.jsonl``): they follow the task, so switching
    ``task.name`` never scores one task's messages against another's schema."""

    @property
    def schema_path(self) -> Path:
        return self.folder / SCHEMA_FILE


def built_in_tasks() -> list[str]:
    return sorted(p.parent.name for p in TASKS_DIR.glob(f"*/{SCHEMA_FILE}"))


def task_folder(name: str) -> tuple[Path, bool]:
    """The folder ``task.name`` refers to and whether it is built in; a bare name must be built in."""
    if not name.strip():
        raise TaskError("task.name is empty: give a built-in task "
                        f"({', '.join(built_in_tasks())}) or the path of a task folder")
    if _BUILT_IN_NAME.fullmatch(name) and (TASKS_DIR / name / SCHEMA_FILE).is_file():
        return TASKS_DIR / name, True
    folder = Path(name)
    if not folder.is_dir():
        raise TaskError(f"task.name: {name!r} is neither a built-in task ({', '.join(built_in_tasks())}) "
                        f"nor an existing folder")
    return folder, False


def default_prompt(schema: dict[str, Any]) -> str:
    """A plain instruction naming the keys in order, for tasks without system_prompt.txt."""
    names = field_names(schema)
    keys = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    what = schema.get("title") or "the requested fields"
    return f"Extract {what} from the user's text as one JSON object with keys {keys}."


def _read_prompt(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: not valid UTF-8 at byte {exc.start}") from None
    if not text:
        raise TaskError(f"{path}: the system prompt is empty (delete the file to use the default prompt)")
    if len(text) > _MAX_PROMPT_CHARS:
        raise TaskError(f"{path}: {len(text)} characters, more than the limit of {_MAX_PROMPT_CHARS}")
    return text


def _load_generator(folder: Path, built_in: bool) -> ModuleType | None:
    path = folder / GENERATOR_FILE
    if not path.is_file():
        return None
    if built_in:
        module = importlib.import_module(f"jsontune.tasks.{folder.name}.generator")
    else:
        spec = importlib.util.spec_from_file_location(f"jsontune_task_{folder.resolve().name}_generator", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    missing = [f for f in ("generate", "templates") if not callable(getattr(module, f, None))]
    if missing:
        raise TaskError(f"{path}: a task generator must define {' and '.join(missing)}() "
                        "(generate(n, seed, template_ids) and templates())")
    return module


def _read_json(path: Path) -> Any:
    """A task JSON file's content; bytes that are not UTF-8 and bad JSON are errors naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: not valid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise TaskError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def _load_rules(path: Path, schema: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """``{"confusable": [[a, b], ...]}``: each pair must be two values of one enum field of the schema."""
    if not path.is_file():
        return {}
    rules = _read_json(path)
    if not isinstance(rules, dict) or set(rules) - {"confusable"}:
        raise TaskError(f"{path}: expected an object with the single key 'confusable'")
    pairs = rules.get("confusable", [])
    enums = [set(map(str, p["enum"])) for p in _enum_schemas(schema)]
    confusable: dict[str, tuple[str, ...]] = {}
    for i, pair in enumerate(pairs if isinstance(pairs, list) else [None]):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)):
            raise TaskError(f"{path}: confusable[{i}]: expected a pair of strings, got {pair!r}")
        a, b = pair
        if a == b or not any({a, b} <= enum for enum in enums):
            raise TaskError(f"{path}: confusable[{i}]: {a!r} and {b!r} are not two values of one enum in the schema")
        confusable[a] = confusable.get(a, ()) + (b,)
        confusable[b] = confusable.get(b, ()) + (a,)
    return confusable


def _enum_schemas(node: Any) -> list[dict[str, Any]]:
    """Every sub-schema with an ``enum``, at any depth (array items, nested objects)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            found.append(node)
        for value in node.values():
            found += _enum_schemas(value)
    elif isinstance(node, list):
        for value in node:
            found += _enum_schemas(value)
    return found


def load_task(name: str, system_prompt: str = "") -> Task:
    """Resolve ``task.name`` and check the folder; ``system_prompt`` (params) overrides the task's own."""
    folder, built_in = task_folder(name)
    schema_path = folder / SCHEMA_FILE
    if not schema_path.is_file():
        raise TaskError(f"{folder}: a task folder needs {SCHEMA_FILE} (the JSON Schema of one answer)")
    schema = load_schema(schema_path)
    data_path = folder / DATA_FILE
    generator = _load_generator(folder, built_in)
    if generator is None and not data_path.is_file():
        raise TaskError(f"{folder}: no data: add {DATA_FILE} (rows of {{\"text\": ..., \"output\": {{...}}}}) "
                        f"or {GENERATOR_FILE}")
    prompt = system_prompt.strip() or _read_prompt(folder / PROMPT_FILE) or default_prompt(schema)
    return Task(name=name, folder=folder, schema=schema, system_prompt=prompt,
                data_path=data_path if data_path.is_file() else None, generator=generator,
                confusable=_load_rules(folder / RULES_FILE, schema),
                extra_sets=tuple(sorted((folder / EXTRA_DIR).glob("*.jsonl"))))


@dataclass(frozen=True)
class ModelTask:
    """The task a merged checkpoint was trained for, as saved beside its weights."""

    name: str
    system_prompt: str
    schema: dict[str, Any]
    max_new_tokens: int


def save_model_task(task: Task, max_new_tokens: int, model_dir: str | Path) -> Path:
    """Write the task next to a checkpoint. The system prompt and schema are part of the model's
    contract: a copy of the directory, or ``jsontune predict`` after ``params.yaml`` changed, must
    prompt and validate exactly as training did."""
    path = Path(model_dir) / MODEL_TASK_FILE
    card = {"task": task.name, "system_prompt": task.system_prompt, "max_new_tokens": max_new_tokens,
            "schema": task.schema}
    path.write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def load_model_task(model_dir: str | Path) -> ModelTask | None:
    """The task saved with a checkpoint (``None`` when it has none, e.g. a base model)."""
    path = Path(model_dir) / MODEL_TASK_FILE
    if not path.is_file():
        return None
    card = _read_json(path)
    checks = {
        "task": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip())),
        "system_prompt": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip())),
        "max_new_tokens": ("a positive integer", lambda v: type(v) is int and v > 0),
        "schema": ("an object", lambda v: isinstance(v, dict)),
    }
    if not isinstance(card, dict):
        raise TaskError(f"{path}: expected an object with the keys {', '.join(checks)}")
    for key, (what, ok) in checks.items():
        if not ok(card.get(key)):
            raise TaskError(f"{path}: {key}: expected {what}, got {card.get(key)!r}"[:300])
    try:
        schema = checked_schema(card["schema"], f"{path}: schema")
    except SchemaFileError as exc:
        raise TaskError(str(exc)) from None
    return ModelTask(name=card["task"], system_prompt=card["system_prompt"], schema=schema,
                     max_new_tokens=card["max_new_tokens"])
