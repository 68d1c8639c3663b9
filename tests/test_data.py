"""Labelled data: strict JSONL reading with file:line errors, de-duplication, leak-free splits, the
chat format and the data card."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from jsontune import data as data_mod
from jsontune.config import load_params
from jsontune.data import (
    SPLITS,
    DataError,
    Example,
    build_splits,
    data_card,
    deduplicate,
    near_duplicate_key,
    read_labelled_jsonl,
    remove_cross_split_duplicates,
    split_groups,
    synthetic_splits,
    to_chat_row,
)
from jsontune.schema import canonical_json, field_names, is_valid
from jsontune.tasks import load_task
from jsontune.tasks.support_ticket import generator

REPO = Path(__file__).resolve().parent.parent
TICKET = load_task("support_ticket")
OUT = {"intent": "REFUND", "urgency": "HIGH", "order_id": "A12345"}
GOOD = json.dumps({"text": "I want my money back for order A12345", "output": OUT})


def write(tmp_path: Path, lines: list[str | bytes], name: str = "rows.jsonl", end: bytes = b"\n") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode("utf-8")) + end for x in lines))
    return path


def row(text: object = "hello there", **output: object) -> str:
    return json.dumps({"text": text, "output": {**OUT, **output}}, ensure_ascii=False)


def data_error(path: Path, schema: dict) -> str:
    with pytest.raises(DataError) as info:
        read_labelled_jsonl(path, schema)
    return str(info.value)


def ex(text: str, intent: str = "REFUND", urgency: str = "LOW", order_id: str | None = None,
       origin: str = "f.jsonl:1", group: str | None = None) -> Example:
    return Example(text=text, output={"intent": intent, "urgency": urgency, "order_id": order_id},
                   group=group if group is not None else near_duplicate_key(text), origin=origin)


# ---------------------------------------------------------------- read_labelled_jsonl: good rows


def test_good_rows_load_and_are_canonicalised(tmp_path, schema):
    lines = [
        json.dumps({"text": "Where is ORD-1?", "output": {"order_id": "ORD-1", "urgency": "LOW",
                                                           "intent": "ORDER_STATUS"}}),
        json.dumps({"text": "  Zoë says hi  ", "source": "web", "output": {"urgency": "LOW", "order_id": None,
                                                                           "intent": "OTHER"}},
                   ensure_ascii=False),
    ]
    path = write(tmp_path, lines)
    examples, blank = read_labelled_jsonl(path, schema)
    assert blank == 0
    assert examples == [
        Example(text="Where is ORD-1?", output={"intent": "ORDER_STATUS", "urgency": "LOW", "order_id": "ORD-1"},
                group=near_duplicate_key("Where is ORD-1?"), origin=f"{path}:1"),
        Example(text="  Zoë says hi  ", output={"intent": "OTHER", "urgency": "LOW", "order_id": None},
                group=near_duplicate_key("  Zoë says hi  "), origin=f"{path}:2"),
    ]
    assert [list(e.output) for e in examples] == [field_names(schema)] * 2


def test_utf8_bom_is_accepted(tmp_path, schema):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\n" + row("second").encode() + b"\n")
    examples, blank = read_labelled_jsonl(path, schema)
    assert [e.text for e in examples] == ["I want my money back for order A12345", "second"]
    assert blank == 0


def test_crlf_line_endings_are_accepted(tmp_path, schema):
    path = write(tmp_path, [GOOD, row("second")], end=b"\r\n")
    examples, blank = read_labelled_jsonl(path, schema)
    assert [e.text for e in examples] == ["I want my money back for order A12345", "second"]
    assert blank == 0


def test_missing_final_newline_is_fine(tmp_path, schema):
    path = tmp_path / "rows.jsonl"
    path.write_text(GOOD + "\n" + row("last"), encoding="utf-8")
    examples, _ = read_labelled_jsonl(path, schema)
    assert [e.origin for e in examples] == [f"{path}:1", f"{path}:2"]


def test_blank_lines_are_counted_not_errors(tmp_path, schema):
    path = write(tmp_path, ["", GOOD, "   ", "\t", row("two"), ""])
    examples, blank = read_labelled_jsonl(path, schema)
    assert blank == 4
    assert [e.origin for e in examples] == [f"{path}:2", f"{path}:5"]


# ---------------------------------------------------------------- read_labelled_jsonl: bad rows

BAD_ROWS = {
    "truncated-json": (row()[:-7], "(line): not valid JSON: "),
    "trailing-comma": ('{"text": "hi", "output": {"intent": "REFUND", "urgency": "HIGH", "order_id": null},}',
                       "(line): not valid JSON: Expecting property name enclosed in double quotes"),
    "non-utf8": (b'{"text": "caf\xe9", "output": {"intent": "REFUND", "urgency": "HIGH", "order_id": null}}',
                 "(line): not valid UTF-8 at byte 13"),
    "array-line": ('[{"text": "hi"}]', "(line): expected a JSON object, got list"),
    "string-line": ('"hi"', "(line): expected a JSON object, got str"),
    "unknown-top-key": ('{"text": "hi", "output": {}, "label": 1}',
                        "label: unknown key (allowed: text, output, source)"),
    "missing-text": (json.dumps({"output": OUT}), "text: missing or empty (expected a non-empty string)"),
    "empty-text": (row(""), "text: missing or empty (expected a non-empty string)"),
    "blank-text": (row("  \t "), "text: missing or empty (expected a non-empty string)"),
    "text-not-string": (row(42), "text: expected a non-empty string, got int"),
    "missing-output": (json.dumps({"text": "hi"}), "output: missing or not an object"),
    "output-not-object": (json.dumps({"text": "hi", "output": "REFUND"}),
                          "output: missing or not an object (got str)"),
    "output-extra-key": (row(extra=1), "output: Additional properties are not allowed ('extra' was unexpected)"),
    "output-missing-key": (json.dumps({"text": "hi", "output": {"intent": "REFUND", "urgency": "HIGH"}}),
                           "output: 'order_id' is a required property"),
    "bad-enum": (row(intent="WHATEVER"), "output.intent: 'WHATEVER' is not one of ["),
    "wrong-case-enum": (row(urgency="high"), "output.urgency: 'high' is not one of ['LOW', 'MEDIUM', 'HIGH']"),
    "order-id-hash": (row(order_id="#A12345"), "output.order_id: '#A12345' does not match"),
    "wrong-type": (row(order_id=12345), "output.order_id: 12345 is not of type 'string', 'null'"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_row_names_file_line_and_field(tmp_path, schema, case):
    line, reason = BAD_ROWS[case]
    path = write(tmp_path, [GOOD, "", line, GOOD])
    message = data_error(path, schema)
    assert message.startswith(f"1 invalid rows in {path}:\n{path}:3: {reason}")
    assert message.count("\n") == 1  # exactly one problem line, the good rows are not reported


def test_all_bad_rows_reported_together(tmp_path, schema):
    path = write(tmp_path, [row(intent="NOPE"), GOOD, "{oops", row(""), GOOD, json.dumps({"text": "x"})])
    message = data_error(path, schema)
    assert message.splitlines() == [
        f"4 invalid rows in {path}:",
        f"{path}:1: output.intent: 'NOPE' is not one of {list(generator.INTENTS)}",
        f"{path}:3: (line): not valid JSON: Expecting property name enclosed in double quotes at column 2",
        f"{path}:4: text: missing or empty (expected a non-empty string)",
        f"{path}:6: output: missing or not an object",
    ]


def test_every_schema_problem_of_one_row_is_reported(tmp_path, schema):
    path = write(tmp_path, [row(intent="x", urgency="y", order_id="#1")])
    lines = data_error(path, schema).splitlines()
    assert lines[0] == f"3 invalid rows in {path}:"
    assert [x.split(": ")[1] for x in lines[1:]] == ["output.intent", "output.order_id", "output.urgency"]
    assert all(x.startswith(f"{path}:1: ") for x in lines[1:])


def test_many_errors_are_truncated_with_a_count(tmp_path, schema):
    path = write(tmp_path, ["{bad"] * 55)
    message = data_error(path, schema)
    lines = message.splitlines()
    assert lines[0] == f"55 invalid rows in {path}:"
    assert len(lines) == 1 + data_mod.MAX_REPORTED_ERRORS + 1
    assert lines[50].startswith(f"{path}:50: ")
    assert f"{path}:51: " not in message
    assert lines[-1] == "... and 5 more"


def test_overlong_line_is_an_error(tmp_path, schema, monkeypatch):
    monkeypatch.setattr(data_mod, "MAX_LINE_CHARS", 100)
    long_row = row("x" * 200)
    path = write(tmp_path, [GOOD, long_row])
    message = data_error(path, schema)
    assert f"{path}:2: (line): {len(long_row)} characters, more than the limit of 100" in message


def test_empty_file_is_an_error(tmp_path, schema):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert data_error(path, schema) == f"{path}: file is empty"


def test_bom_only_file_is_empty(tmp_path, schema):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf")
    assert data_error(path, schema) == f"{path}: file is empty"


def test_missing_file_is_an_error(tmp_path, schema):
    path = tmp_path / "absent.jsonl"
    assert data_error(path, schema) == f"{path}: file not found"


# ---------------------------------------------------------------- near duplicates and deduplicate


def test_near_duplicate_key():
    key = near_duplicate_key("Where is order #A12345?")
    assert len(key) == 16 and all(c in "0123456789abcdef" for c in key)
    assert near_duplicate_key("where IS order A99999!!") == key
    assert near_duplicate_key("  Where   is order, a00000 ") == key
    assert near_duplicate_key("Where is my order A12345?") != key
    assert near_duplicate_key("Where was order A12345?") != key


def test_deduplicate_removes_and_counts_exact_repeats():
    rows = [ex("hello world", origin="f:1"), ex("other", origin="f:2"), ex("hello world", origin="f:3"),
            ex("hello   world ", origin="f:4"), ex("other", origin="f:5")]
    kept, removed = deduplicate(rows)
    assert removed == 3
    assert [e.origin for e in kept] == ["f:1", "f:2"]


def test_deduplicate_keeps_near_duplicates_with_different_text():
    rows = [ex("Order A1 please", origin="f:1"), ex("order a2 please", origin="f:2")]
    kept, removed = deduplicate(rows)
    assert removed == 0 and kept == rows


def test_deduplicate_conflicting_labels_name_both_lines():
    rows = [ex("hello world", intent="REFUND", origin="f.jsonl:1"), ex("fine", origin="f.jsonl:2"),
            ex("hello world", intent="RETURN", origin="f.jsonl:7")]
    with pytest.raises(DataError) as info:
        deduplicate(rows)
    message = str(info.value)
    assert message.splitlines()[0] == "1 invalid rows (conflicting labels):"
    assert message.splitlines()[1].startswith("f.jsonl:7: output: conflicts with f.jsonl:1 for the same text")
    assert '"REFUND"' in message and '"RETURN"' in message


def test_deduplicate_reports_every_conflict():
    rows = [ex("a", origin="f:1"), ex("b", origin="f:2"), ex("a", urgency="HIGH", origin="f:3"),
            ex("b", order_id="X1", origin="f:4")]
    with pytest.raises(DataError) as info:
        deduplicate(rows)
    lines = str(info.value).splitlines()
    assert lines[0] == "2 invalid rows (conflicting labels):"
    assert lines[1].startswith("f:3: output: conflicts with f:1")
    assert lines[2].startswith("f:4: output: conflicts with f:2")


# ---------------------------------------------------------------- split_groups


GROUPS = [f"g{i:03d}" for i in range(100)]


def test_split_groups_is_deterministic_and_order_independent():
    a = split_groups(GROUPS, 0.1, 0.2, seed=7)
    b = split_groups(list(reversed(GROUPS)) + GROUPS[:10], 0.1, 0.2, seed=7)
    assert a == b
    assert split_groups(GROUPS, 0.1, 0.2, seed=8) != a


def test_split_groups_covers_every_group_once_with_exact_proportions():
    out = split_groups(GROUPS, 0.1, 0.2, seed=3)
    assert set(out) == set(GROUPS)
    assert Counter(out.values()) == {"train": 70, "val": 10, "test": 20}


def test_split_groups_rounds_proportions():
    out = split_groups([f"g{i}" for i in range(33)], 0.15, 0.25, seed=0)
    assert Counter(out.values()) == {"test": 8, "val": 5, "train": 20}


def test_split_groups_small_counts_get_at_least_one():
    out = split_groups(["a", "b", "c"], 0.1, 0.2, seed=0)
    assert sorted(Counter(out.values()).items()) == [("test", 1), ("train", 1), ("val", 1)]


def test_split_groups_without_val():
    out = split_groups(["a", "b"], 0.0, 0.2, seed=0)
    assert sorted(out.values()) == ["test", "train"]


@pytest.mark.parametrize(("groups", "val"), [(["a", "b"], 0.1), (["a"], 0.0), ([], 0.1), (["a", "a", "b"], 0.1)])
def test_split_groups_too_few_groups(groups, val):
    with pytest.raises(DataError) as info:
        split_groups(groups, val, 0.2, seed=0)
    n = len(set(groups))
    assert str(info.value) == (f"only {n} distinct groups of examples: too few for a train/val/test split "
                               f"with val_fraction={val}, test_fraction=0.2")


# ---------------------------------------------------------------- remove_cross_split_duplicates


def test_remove_cross_split_duplicates():
    splits = {
        "train": [ex("Where is order A123?"), ex("train only")],
        "val": [ex("where is ORDER a999!"), ex("val text")],
        "test": [ex("Val text."), ex("Where is order 55"), ex("test text")],
    }
    out, removed = remove_cross_split_duplicates(splits)
    assert removed == 2
    assert [e.text for e in out["train"]] == ["Where is order A123?", "train only"]
    assert [e.text for e in out["val"]] == ["val text"]
    assert [e.text for e in out["test"]] == ["Where is order 55", "test text"]
    assert len(splits["val"]) == 2  # input not mutated


# ---------------------------------------------------------------- build_splits: synthetic


@pytest.fixture(scope="module")
def real_params():
    return load_params(REPO / "params.yaml")


@pytest.fixture(scope="module")
def synthetic(real_params, schema):
    d = real_params.dataset
    return build_splits("synthetic", TICKET, 300, d.val_fraction, d.test_fraction, d.seed)


def test_synthetic_sizes(synthetic, real_params):
    splits, counts = synthetic
    assert set(splits) == set(SPLITS)
    assert set(counts) == {"blank_lines", "duplicates_removed", "near_duplicates_removed"}
    assert counts["blank_lines"] == 0 and counts["duplicates_removed"] == 0
    assert sum(len(v) for v in splits.values()) == 300 - counts["near_duplicates_removed"]
    d = real_params.dataset
    assert len(splits["train"]) == 300 - round(300 * d.test_fraction) - round(300 * d.val_fraction)
    assert len(splits["test"]) <= round(300 * d.test_fraction)
    assert len(splits["val"]) <= round(300 * d.val_fraction)


def test_synthetic_rows_are_valid_and_canonical(synthetic, schema):
    splits, _ = synthetic
    for rows in splits.values():
        for e in rows:
            assert is_valid(e.output, schema), e
            assert list(e.output) == field_names(schema)
            assert e.text.strip()


def test_synthetic_splits_are_template_disjoint(synthetic):
    splits, _ = synthetic
    groups = {s: {e.group for e in rows} for s, rows in splits.items()}
    train_only = {t for ids in generator.train_only_templates().values() for t in ids}
    all_templates = {t for ids in generator.templates().values() for t in ids}
    assert groups["train"] <= all_templates | train_only
    assert groups["val"] | groups["test"] <= all_templates
    assert not groups["train"] & groups["test"]
    assert not groups["train"] & groups["val"]
    assert not groups["val"] & groups["test"]


def test_train_only_templates_go_to_train_and_leave_val_and_test_alone(real_params):
    d = real_params.dataset
    with_extra = synthetic_splits(generator, TICKET.schema, 600, d.val_fraction, d.test_fraction, d.seed)
    split_only = SimpleNamespace(templates=generator.templates, generate=generator.generate)
    without = synthetic_splits(split_only, TICKET.schema, 600, d.val_fraction, d.test_fraction, d.seed)
    train_only = {t for ids in generator.train_only_templates().values() for t in ids}
    assert train_only and not train_only & {t for ids in generator.templates().values() for t in ids}
    assert {e.group for e in with_extra["train"]} & train_only
    assert not {e.group for e in without["train"]} & train_only
    for split in ("val", "test"):
        assert not {e.group for e in with_extra[split]} & train_only
        assert with_extra[split] == without[split]


def test_train_only_ids_that_clash_with_split_ids_are_refused():
    clash = SimpleNamespace(templates=generator.templates, generate=generator.generate,
                            train_only_templates=lambda: {"REFUND": ["REFUND/03"]})
    with pytest.raises(DataError, match="REFUND/03"):
        synthetic_splits(clash, TICKET.schema, 300, 0.1, 0.2, 13)


def test_synthetic_no_near_duplicates_across_splits(synthetic):
    splits, _ = synthetic
    keys = {s: {near_duplicate_key(e.text) for e in rows} for s, rows in splits.items()}
    assert not keys["test"] & keys["train"]
    assert not keys["val"] & keys["train"]
    assert not keys["test"] & keys["val"]


def test_synthetic_test_covers_every_intent(synthetic, schema):
    splits, _ = synthetic
    assert {e.output["intent"] for e in splits["test"]} == set(schema["properties"]["intent"]["enum"])


def test_synthetic_is_deterministic(synthetic, real_params, schema):
    d = real_params.dataset
    again = build_splits("synthetic", TICKET, 300, d.val_fraction, d.test_fraction, d.seed)
    assert again == synthetic
    other, _ = build_splits("synthetic", TICKET, 300, d.val_fraction, d.test_fraction,
                            d.seed + 1)
    assert [e.text for e in other["test"]] != [e.text for e in synthetic[0]["test"]]


def test_synthetic_needs_a_task_generator(tmp_path, schema):
    folder = tmp_path / "mytask"
    folder.mkdir()
    (folder / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    (folder / "data.jsonl").write_text(GOOD + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        build_splits("synthetic", load_task(str(folder)), 100, 0.1, 0.2, 0)
    assert str(info.value).startswith(f"dataset.source is 'synthetic' but task '{folder}' ({folder}) has no "
                                      "generator.py")


# ---------------------------------------------------------------- build_splits: user JSONL

GREETINGS = ["hello", "hey", "good morning", "dear team", "yo", "greetings"]
ITEMS = ["kettle", "blender", "sofa", "lamp", "jacket", "sneakers", "laptop", "umbrella"]


def user_rows() -> list[dict]:
    intents = generator.INTENTS
    rows = []
    for i, (greet, item) in enumerate(itertools.product(GREETINGS, ITEMS)):
        rows.append({"text": f"{greet}, something is off with my {item}",
                     "output": {"intent": intents[i % len(intents)], "urgency": ["LOW", "MEDIUM", "HIGH"][i % 3],
                                "order_id": f"A{i}" if i % 2 else None}})
    return rows


@pytest.fixture()
def user_file(tmp_path):
    rows = user_rows()
    lines = [json.dumps(r) for r in rows]
    # an exact duplicate, a near-duplicate of row 0 (same key, different text) and a blank line
    lines.insert(5, lines[0])
    near = {"text": rows[0]["text"].upper() + "!!", "output": rows[0]["output"]}
    lines.insert(9, json.dumps(near))
    lines.insert(12, "")
    return write(tmp_path, lines, name="user.jsonl")


def test_user_jsonl_splits(user_file, schema):
    splits, counts = build_splits(str(user_file), TICKET, 1500, 0.1, 0.2, 5)
    assert counts == {"blank_lines": 1, "duplicates_removed": 1, "near_duplicates_removed": 0}
    n_unique = len(user_rows()) + 1
    assert sum(len(v) for v in splits.values()) == n_unique
    texts = {s: [e.text for e in rows] for s, rows in splits.items()}
    all_texts = [t for s in SPLITS for t in texts[s]]
    assert len(all_texts) == len(set(all_texts))  # no text in two splits (or twice in one)
    keys = {s: {near_duplicate_key(t) for t in texts[s]} for s in SPLITS}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]
    # the near-duplicate lands in the same split as its original
    base = user_rows()[0]["text"]
    [split_of_base] = [s for s in SPLITS if base in texts[s]]
    assert base.upper() + "!!" in texts[split_of_base]
    # groups are the near-duplicate keys, so proportions follow the group split
    assert Counter({s: len(keys[s]) for s in SPLITS}) == {"train": 33, "val": 5, "test": 10}
    for rows in splits.values():
        for e in rows:
            assert e.origin.startswith(f"{user_file}:")


def test_user_jsonl_split_follows_the_seed(user_file, schema):
    a, _ = build_splits(str(user_file), TICKET, 1500, 0.1, 0.2, 5)
    b, _ = build_splits(str(user_file), TICKET, 1500, 0.1, 0.2, 5)
    c, _ = build_splits(str(user_file), TICKET, 1500, 0.1, 0.2, 6)
    assert a == b
    assert {e.text for e in c["test"]} != {e.text for e in a["test"]}


def test_user_jsonl_errors_propagate(tmp_path, schema):
    path = write(tmp_path, [GOOD, row(urgency="SOON")])
    with pytest.raises(DataError) as info:
        build_splits(str(path), TICKET, 1500, 0.1, 0.2, 0)
    assert f"{path}:2: output.urgency: 'SOON' is not one of" in str(info.value)


def test_user_jsonl_too_small(tmp_path, schema):
    path = write(tmp_path, [GOOD, row("another message entirely")])
    with pytest.raises(DataError, match="only 2 distinct groups"):
        build_splits(str(path), TICKET, 1500, 0.1, 0.2, 0)


# ---------------------------------------------------------------- chat rows and the data card


def test_to_chat_row(schema):
    e = Example(text="Où est ma commande A1 ?", output={"intent": "ORDER_STATUS", "urgency": "MEDIUM",
                                                         "order_id": "A1"}, group="g", origin="f:1")
    assert to_chat_row(e, schema, "SYSTEM PROMPT") == {
        "text": "Où est ma commande A1 ?",
        "output": {"intent": "ORDER_STATUS", "urgency": "MEDIUM", "order_id": "A1"},
        "group": "g",
        "prompt": [{"role": "system", "content": "SYSTEM PROMPT"},
                   {"role": "user", "content": "Où est ma commande A1 ?"}],
        "completion": [{"role": "assistant",
                        "content": '{"intent": "ORDER_STATUS", "urgency": "MEDIUM", "order_id": "A1"}'}],
    }


def test_to_chat_row_uses_canonical_json(schema, real_params):
    e = Example(text="x", output={"order_id": None, "urgency": "LOW", "intent": "OTHER"}, group="g", origin="o")
    prompt = load_task(real_params.task.name, real_params.task.system_prompt).system_prompt
    assert prompt.strip()
    chat = to_chat_row(e, schema, prompt)
    assert chat["prompt"][0] == {"role": "system", "content": prompt}
    assert [m["role"] for m in chat["prompt"]] == ["system", "user"]
    assert chat["completion"] == [{"role": "assistant", "content": canonical_json(e.output, schema)}]
    assert chat["completion"][0]["content"] == '{"intent": "OTHER", "urgency": "LOW", "order_id": null}'


def test_data_card_exact(schema):
    splits = {
        "train": [ex("a", "REFUND", "HIGH", None), ex("b", "REFUND", "LOW", "A1"), ex("c", "OTHER", "LOW", "B2")],
        "val": [],
        "test": [ex("d", "ACCOUNT", "MEDIUM", None)],
    }
    card = data_card(splits, schema, blank_lines=2, duplicates_removed=1)
    zero = dict.fromkeys(generator.INTENTS, 0)
    assert card == {
        "blank_lines": 2,
        "duplicates_removed": 1,
        "train": {"n": 3, "intent": {**zero, "REFUND": 2, "OTHER": 1}, "urgency": {"LOW": 2, "MEDIUM": 0, "HIGH": 1},
                  "order_id_present": 0.6667},
        "val": {"n": 0, "intent": zero, "urgency": {"LOW": 0, "MEDIUM": 0, "HIGH": 0}, "order_id_present": 0.0},
        "test": {"n": 1, "intent": {**zero, "ACCOUNT": 1}, "urgency": {"LOW": 0, "MEDIUM": 1, "HIGH": 0},
                 "order_id_present": 0.0},
    }
    assert list(card["train"]["intent"]) == list(generator.INTENTS)


def test_data_card_counts_add_up(synthetic, schema):
    splits, counts = synthetic
    card = data_card(splits, schema, **counts)
    for key, value in counts.items():
        assert card[key] == value
    for split, rows in splits.items():
        entry = card[split]
        assert entry["n"] == len(rows)
        assert sum(entry["intent"].values()) == len(rows)
        assert sum(entry["urgency"].values()) == len(rows)
        assert entry["intent"] == {k: sum(e.output["intent"] == k for e in rows) for k in generator.INTENTS}
        present = sum(e.output["order_id"] is not None for e in rows) / len(rows)
        assert entry["order_id_present"] == round(present, 4)
        assert 0 < entry["order_id_present"] < 1


def test_train_examples_grows_train_and_keeps_val_and_test(real_params):
    d = real_params.dataset
    base, _ = build_splits("synthetic", TICKET, 300, d.val_fraction, d.test_fraction, d.seed)
    more, _ = build_splits("synthetic", TICKET, 300, d.val_fraction, d.test_fraction, d.seed, train_examples=420)
    assert len(more["train"]) == 420
    assert [e.text for e in more["test"]] == [e.text for e in base["test"]]
    assert [e.text for e in more["val"]] == [e.text for e in base["val"]]
    ids = [generator.templates(), generator.train_only_templates()]
    assert {e.group for e in more["train"]} <= {t for table in ids for group in table.values() for t in group}
    assert not {e.group for e in more["train"]} & {e.group for e in base["test"] + base["val"]}


def test_train_examples_refused_for_a_file_source(tmp_path):
    src = tmp_path / "rows.jsonl"
    src.write_text('{"text": "where is my order 123-4567890-1234567", "output": {"intent": "ORDER_STATUS", '
                   '"urgency": "LOW", "order_id": "123-4567890-1234567"}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"dataset.train_examples: 50 needs a generator source.*rows.jsonl"):
        build_splits(str(src), TICKET, 10, 0.1, 0.2, 0, train_examples=50)
