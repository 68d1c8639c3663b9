"""Task folders: resolving ``task.name``, the errors for broken folders, and the user_profile generator."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from jsontune.cli import main
from jsontune.data import build_splits, near_duplicate_key
from jsontune.schema import SchemaFileError, field_names, is_valid
from jsontune.tasks import (
    MODEL_TASK_FILE,
    TaskError,
    built_in_tasks,
    default_prompt,
    load_model_task,
    load_task,
    save_model_task,
)
from jsontune.tasks.user_profile import generator as up

REPO = Path(__file__).resolve().parent.parent
SCHEMA = {"title": "the order", "type": "object", "properties": {"item": {"type": "string"},
                                                                   "qty": {"type": "integer", "minimum": 1}},
          "required": ["item", "qty"], "additionalProperties": False}
ROW = json.dumps({"text": "two kettles please", "output": {"item": "kettle", "qty": 2}})


def make_task(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "my_task"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def task_error(name: str) -> str:
    with pytest.raises((TaskError, SchemaFileError)) as info:
        load_task(name)
    return str(info.value)


# ---------------------------------------------------------------- resolving task.name


def test_built_in_tasks_resolve_by_name():
    assert built_in_tasks() == ["support_ticket", "user_profile"]
    ticket = load_task("support_ticket")
    assert ticket.folder == REPO / "jsontune/tasks/support_ticket"
    assert ticket.system_prompt == (ticket.folder / "system_prompt.txt").read_text().strip()
    assert ticket.generator is not None and ticket.data_path is None
    assert ticket.confusable["REFUND"] == ("RETURN", "PAYMENT_ISSUE")
    profile = load_task("user_profile")
    assert field_names(profile.schema) == ["full_name", "email", "years_of_experience", "skills", "primary_role"]
    assert profile.system_prompt.startswith("Extract the user profile")


def test_params_prompt_overrides_the_task_prompt():
    assert load_task("user_profile", "  Custom prompt.  ").system_prompt == "Custom prompt."


def test_folder_task_with_files_only(tmp_path):
    folder = make_task(tmp_path, {"schema.json": json.dumps(SCHEMA), "data.jsonl": ROW + "\n"})
    task = load_task(str(folder))
    assert task.generator is None and task.data_path == folder / "data.jsonl" and task.confusable == {}
    assert task.system_prompt == default_prompt(SCHEMA)
    assert task.system_prompt == "Extract the order from the user's text as one JSON object with keys item and qty."


def test_folder_task_splits_its_data(tmp_path):
    rows = [json.dumps({"text": f"{n} {item}s please", "output": {"item": item, "qty": n}})
            for item in ("kettle", "lamp", "mug", "chair", "desk") for n in (1, 2, 3)]
    rows += [json.dumps({"text": f"order of {item}", "output": {"item": item, "qty": 1}})
             for item in ("pen", "cup", "bag", "hat", "box")]
    folder = make_task(tmp_path, {"schema.json": json.dumps(SCHEMA), "data.jsonl": "\n".join(rows) + "\n"})
    splits, counts = build_splits("task", load_task(str(folder)), 0, 0.1, 0.2, 0)
    assert sum(len(v) for v in splits.values()) + counts["near_duplicates_removed"] == len(rows)
    assert splits["train"] and splits["test"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "task.name is empty: give a built-in task (support_ticket, user_profile) or the path of a task folder"),
        ("support_tickets", "task.name: 'support_tickets' is neither a built-in task (support_ticket, user_profile) "
                            "nor an existing folder"),
        ("tasks/nope", "task.name: 'tasks/nope' is neither a built-in task"),
    ],
)
def test_unknown_task_names(name, expected):
    assert task_error(name).startswith(expected)


def test_folder_errors_name_the_file(tmp_path):
    folder = make_task(tmp_path, {"data.jsonl": ROW})
    assert task_error(str(folder)) == f"{folder}: a task folder needs schema.json (the JSON Schema of one answer)"
    (folder / "schema.json").write_text('{"type": "object", "properties": {"a": {"type": "strin"}}}')
    assert task_error(str(folder)).startswith(f"{folder / 'schema.json'}: not a valid JSON Schema")
    (folder / "schema.json").write_text('{"type": "array"}')
    assert task_error(str(folder)) == f"{folder / 'schema.json'}: the schema must describe an object with 'properties'"
    (folder / "schema.json").write_text("{\n  oops")
    assert task_error(str(folder)) == f"{folder / 'schema.json'}:2: not valid JSON: Expecting property name " \
                                      "enclosed in double quotes"
    (folder / "schema.json").write_text(json.dumps(SCHEMA))
    (folder / "data.jsonl").unlink()
    assert task_error(str(folder)).startswith(f"{folder}: no data: add data.jsonl")


def test_bad_optional_files(tmp_path):
    folder = make_task(tmp_path, {"schema.json": json.dumps(SCHEMA), "data.jsonl": ROW})
    (folder / "system_prompt.txt").write_text("  \n")
    assert task_error(str(folder)).startswith(f"{folder / 'system_prompt.txt'}: the system prompt is empty")
    (folder / "system_prompt.txt").unlink()
    (folder / "negatives.json").write_text('{"confusable": [["kettle", "lamp"]]}')
    assert task_error(str(folder)) == (f"{folder / 'negatives.json'}: confusable[0]: 'kettle' and 'lamp' are not "
                                       "two values of one enum in the schema")
    (folder / "negatives.json").write_text('{"confused": []}')
    assert "single key 'confusable'" in task_error(str(folder))
    (folder / "negatives.json").write_bytes(b'{"confusable": ["\xff"]}')
    assert task_error(str(folder)) == f"{folder / 'negatives.json'}: not valid UTF-8 at byte 17"
    (folder / "negatives.json").write_text('{"confusable": [}')
    assert task_error(str(folder)) == f"{folder / 'negatives.json'}:1: not valid JSON: Expecting value"
    (folder / "negatives.json").unlink()
    (folder / "generator.py").write_text("def generate(n, seed, template_ids=None):\n    return []\n")
    assert task_error(str(folder)) == (f"{folder / 'generator.py'}: a task generator must define templates() "
                                       "(generate(n, seed, template_ids) and templates())")


def test_synthetic_source_needs_a_generator(tmp_path):
    from jsontune.data import DataError

    folder = make_task(tmp_path, {"schema.json": json.dumps(SCHEMA), "data.jsonl": ROW})
    with pytest.raises(DataError, match="has no generator.py; use dataset.source: task"):
        build_splits("synthetic", load_task(str(folder)), 10, 0.1, 0.2, 0)


def test_check_params_validates_the_task(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("task:\n  name: no_such_task\n")
    assert main(["check-params", str(params)]) == 2
    assert "error: task.name: 'no_such_task' is neither a built-in task" in capsys.readouterr().err
    params.write_text("task:\n  name: user_profile\n")
    assert main(["check-params", str(params)]) == 0


def test_check_params_rejects_train_examples_for_file_sources(tmp_path, capsys):
    """The default draws 1400 train rows from a generator: a task's data.jsonl or a JSONL file must say 0,
    and `make train` must say so in its first step, not after the dataset stage starts."""
    folder = make_task(tmp_path, {"schema.json": json.dumps(SCHEMA), "data.jsonl": ROW + "\n"})
    params = tmp_path / "params.yaml"
    params.write_text(f"task:\n  name: {folder}\ndataset:\n  source: task\n")
    assert main(["check-params", str(params)]) == 2
    assert capsys.readouterr().err == (f"error: dataset.train_examples: 1400 needs a generator source, but the "
                                       f"examples come from {folder / 'data.jsonl'}; set it to 0 (every row of "
                                       "the file is used)\n")
    params.write_text(f"task:\n  name: {folder}\ndataset:\n  source: {folder / 'data.jsonl'}\n")
    assert main(["check-params", str(params)]) == 2
    assert "needs a generator source" in capsys.readouterr().err
    params.write_text(f"task:\n  name: {folder}\ndataset:\n  source: task\n  train_examples: 0\n")
    assert main(["check-params", str(params)]) == 0


# ---------------------------------------------------------------- the user_profile generator


@pytest.fixture(scope="module")
def bios() -> list[up.Example]:
    return up.generate(600, seed=3)


def test_generator_is_deterministic_and_large():
    ids = [t for group in up.templates().values() for t in group]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    assert list(up.templates()) == list(up.ROLES)
    assert up.generate(30, seed=1) == up.generate(30, seed=1)
    assert [e.text for e in up.generate(30, seed=1)] != [e.text for e in up.generate(30, seed=2)]
    some = up.templates()["Data Scientist"][:2]
    assert {e.template for e in up.generate(40, seed=0, template_ids=some)} <= set(some)
    with pytest.raises(ValueError, match="unknown template ids"):
        up.generate(1, seed=0, template_ids=["Nope/00"])


def test_labels_are_valid_and_follow_the_documented_rules(bios):
    for e in bios:
        out = e.output
        assert is_valid(out, up.SCHEMA) and list(out) == field_names(up.SCHEMA)
        assert out["full_name"] in e.text
        if out["email"] is not None:
            assert out["email"] in e.text
        positions = [up.skill_pattern(s).search(e.text) for s in out["skills"]]
        assert all(positions), (e.text, out["skills"])
        assert [m.start() for m in positions] == sorted(m.start() for m in positions), e.text
        assert len(set(out["skills"])) == len(out["skills"])


def test_the_data_is_hard_in_the_documented_ways(bios):
    n = len(bios)
    roles = Counter(e.output["primary_role"] for e in bios)
    assert set(roles) == set(up.ROLES) and min(roles.values()) > n / 10
    assert 0.25 < sum(e.output["email"] is None for e in bios) / n < 0.6
    # distractor numbers: another integer in the text besides the experience
    other_numbers = sum(len(set(re.findall(r"\b\d+\b", e.text)) - {str(e.output["years_of_experience"])}) > 0
                        for e in bios)
    assert other_numbers / n > 0.3
    assert sum(re.search(r"[\w.+-]+@(acme|talentco|globex|hirewell|initech)", e.text) is not None
               for e in bios) / n > 0.05
    assert sum(e.output["years_of_experience"] == 0 for e in bios) > 0
    assert sum(not e.output["skills"] for e in bios) > 0
    assert sum(re.search(r"learn|No experience with|never used", e.text) is not None for e in bios) / n > 0.1
    assert sum(any(a in e.text for s in e.output["skills"] for a in up.ALIASES.get(s, [])) for e in bios) > 0
    assert len({near_duplicate_key(e.text) for e in bios}) == n


def test_user_profile_splits_are_template_disjoint():
    task = load_task("user_profile")
    splits, counts = build_splits("synthetic", task, 300, 0.1, 0.2, 13)
    groups = {s: {e.group for e in rows} for s, rows in splits.items()}
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["val"]
    assert not groups["val"] & groups["test"]
    assert {e.output["primary_role"] for e in splits["test"]} == set(up.ROLES)
    assert len(splits["train"]) == 300 - 60 - 30


def test_extra_sets_follow_the_task_folder(tmp_path: Path) -> None:
    """The ticket's hand-written set is scored only when the ticket task is selected."""
    from jsontune.config import params_from_dict
    from jsontune.pipeline import extra_set_paths

    ticket, profile = load_task("support_ticket"), load_task("user_profile")
    assert [p.name for p in ticket.extra_sets] == ["handwritten.jsonl"] and profile.extra_sets == ()
    params = params_from_dict({"eval": {"extra_sets": ["data/extra/handwritten.jsonl"]}})
    (tmp_path / "data/extra").mkdir(parents=True)
    (tmp_path / "data/extra/handwritten.jsonl").write_text('{"text": "x", "output": {"full_name": "X"}}\n')
    with pytest.raises(ValueError, match="same name 'handwritten'"):
        extra_set_paths(params, tmp_path, ticket)
    assert extra_set_paths(params, tmp_path, profile) == [tmp_path / "data/extra/handwritten.jsonl"]


# ---------------------------------------------------------------- the task saved with a merged checkpoint


def test_model_task_round_trip(tmp_path: Path) -> None:
    task = load_task("user_profile", "Custom prompt.")
    path = save_model_task(task, 96, tmp_path)
    assert path == tmp_path / MODEL_TASK_FILE
    saved = load_model_task(tmp_path)
    assert saved is not None
    assert (saved.name, saved.system_prompt, saved.schema, saved.max_new_tokens) == (
        "user_profile", "Custom prompt.", task.schema, 96)
    assert load_model_task(tmp_path / "nowhere") is None


@pytest.mark.parametrize(("content", "message"), [
    ("{", r"jsontune_task.json:1: not valid JSON"),
    (b"{\"task\": \"\xe9\"}", r"jsontune_task.json: not valid UTF-8 at byte 10"),
    ("[]", r"jsontune_task.json: expected an object with the keys task, system_prompt, max_new_tokens, schema"),
    ('{"task": "t", "system_prompt": " ", "max_new_tokens": 8, "schema": {}}',
     r"jsontune_task.json: system_prompt: expected a non-empty string, got ' '"),
    ('{"task": "t", "system_prompt": "p", "max_new_tokens": true, "schema": {}}',
     r"jsontune_task.json: max_new_tokens: expected a positive integer, got True"),
    ('{"task": "t", "system_prompt": "p", "max_new_tokens": 0, "schema": {}}',
     r"jsontune_task.json: max_new_tokens: expected a positive integer, got 0"),
    ('{"task": "t", "system_prompt": "p", "max_new_tokens": 8, "schema": []}',
     r"jsontune_task.json: schema: expected an object, got \[\]"),
    ('{"task": "t", "system_prompt": "p", "max_new_tokens": 8, "schema": {"type": "object"}}',
     r"jsontune_task.json: schema: the schema must describe an object with 'properties'"),
    ('{"task": "t", "system_prompt": "p", "max_new_tokens": 8, "schema": {"type": 3, "properties": {}}}',
     r"jsontune_task.json: schema: not a valid JSON Schema"),
])
def test_bad_model_task_names_the_file(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / MODEL_TASK_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(TaskError, match=re.escape(str(tmp_path)) + re.escape("/") + message):
        load_model_task(tmp_path)
