"""Labelled examples: reading and validating JSONL, synthetic generation, de-duplication, splitting
and chat formatting.

Nothing is dropped silently: invalid rows raise :class:`DataError` with ``file:line: field: reason``
for every bad row, and exact duplicates / cross-split near-duplicates are removed *and counted* in the
data card that the dataset stage writes as a DVC metric.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsontune.schema import canonical, canonical_json, field_names, schema_errors
from jsontune.tasks import Task

SPLITS = ("train", "val", "test")
ROW_KEYS = ("text", "output", "source")
MAX_LINE_CHARS = 1_000_000
MAX_REPORTED_ERRORS = 50
log = logging.getLogger(__name__)


class DataError(ValueError):
    """Input data that cannot be used; the message lists every bad row as ``file:line: field: reason``."""


@dataclass(frozen=True)
class Example:
    text: str
    output: dict[str, Any]
    group: str
    """Rows of one group always land in the same split (a phrasing template, or a near-duplicate key)."""
    origin: str
    """Where the row came from (``file:line`` or ``synthetic``), kept for error messages and inspection."""


def raise_errors(errors: list[str], what: str) -> None:
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        tail = f"\n... and {more} more" if more else ""
        raise DataError(f"{len(errors)} invalid {what}:\n" + "\n".join(shown) + tail)


def jsonl_objects(raw: bytes, name: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str], int]:
    """Every non-blank line of JSONL bytes as ``(file:line, object)``, the problems as
    ``file:line: field: reason`` and the number of blank lines.

    One parser for training data and ``jsontune predict`` input: a UTF-8 BOM and CRLF endings are
    accepted; bytes that are not UTF-8, a line that is not one JSON object, a repeated key, NaN/Infinity,
    unpaired surrogates and over-long lines are errors, never skipped or repaired.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    rows: list[tuple[str, dict[str, Any]]] = []
    errors: list[str] = []
    blank = 0
    for lineno, line_bytes in enumerate(lines, start=1):
        where = f"{name}:{lineno}"
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(f"{where}: (line): not valid UTF-8 at byte {exc.start}")
            continue
        if not line.strip():
            blank += 1
            continue
        row, problem = parse_object_line(line, where)
        if problem:
            errors.append(problem)
        else:
            rows.append((where, row))
    return rows, errors, blank


def _unknown_key(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1) or [a for a in allowed if a.casefold() == key.casefold()]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{key}: unknown key{hint} (allowed: {', '.join(allowed)})"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def read_labelled_jsonl(path: str | Path, schema: dict[str, Any]) -> tuple[list[Example], int]:
    """Read ``{"text": str, "output": {...}}`` rows; returns the examples and the count of blank lines.

    Every row is checked (JSON, types, schema) and all problems are reported together, so one run
    shows the user everything to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if not raw.removeprefix(b"\xef\xbb\xbf"):
        raise DataError(f"{path}: file is empty")
    rows, errors, blank = jsonl_objects(raw, str(path))
    examples: list[Example] = []
    for where, row in rows:
        unknown = [k for k in row if k not in ROW_KEYS]
        if unknown:
            errors.extend(f"{where}: {_unknown_key(k, ROW_KEYS)}" for k in unknown)
            continue
        text = row.get("text")
        if text is not None and not isinstance(text, str):
            errors.append(f"{where}: text: expected a non-empty string, got {_type_name(text)}")
            continue
        if not text or not text.strip():
            errors.append(f"{where}: text: missing or empty (expected a non-empty string)")
            continue
        if "source" in row and not isinstance(row["source"], str):
            errors.append(f"{where}: source: expected a string, got {_type_name(row['source'])}")
            continue
        output = row.get("output")
        if not isinstance(output, dict):
            got = f" (got {_type_name(output)})" if "output" in row else ""
            errors.append(f"{where}: output: missing or not an object{got}")
            continue
        problems = schema_errors(output, schema)
        if problems:
            errors.extend(f"{where}: output.{p}" if not p.startswith("(root)") else f"{where}: output{p[6:]}"
                          for p in problems)
            continue
        examples.append(Example(text=text, output=canonical(output, schema), group=near_duplicate_key(text),
                                origin=where))
    if not examples and not errors:
        raise DataError(f"{path}: no rows (only blank lines)")
    raise_errors(by_line(errors, str(path)), f"rows in {path}")
    return examples, blank


def by_line(errors: list[str], name: str) -> list[str]:
    """``name:line: ...`` messages in line order (stable within a line)."""
    return sorted(errors, key=lambda e: int(e[len(name) + 1:].split(":", 1)[0]))


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _surrogate_path(value: Any, path: str) -> str | None:
    """The first field holding an unpaired UTF-16 surrogate (``"\\ud800"``), which no UTF-8 file can store."""
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _surrogate_path(key, path) is not None:
            return f"{path}.{key}" if path else key
        found = _surrogate_path(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def parse_object_line(line: str, where: str) -> tuple[Any, str | None]:
    """One JSONL line as a JSON object, or ``(None, "file:line: field: reason")``; size-bounded and strict:
    a repeated key would silently keep only the last value, so it is an error, as are NaN/Infinity."""
    if len(line) > MAX_LINE_CHARS:
        return None, f"{where}: (line): {len(line)} characters, more than the limit of {MAX_LINE_CHARS}"
    try:
        row = json.loads(line, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        return None, f"{where}: {exc}: key repeated in one object (JSON keys must be unique)"
    except json.JSONDecodeError as exc:
        return None, f"{where}: (line): not valid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return None, f"{where}: (line): not valid JSON: {exc}"
    if not isinstance(row, dict):
        return None, f"{where}: (line): expected a JSON object, got {type(row).__name__}"
    bad = _surrogate_path(row, "")
    if bad is not None:
        return None, f"{where}: {bad}: unpaired UTF-16 surrogate escape (not valid Unicode)"
    return row, None


def near_duplicate_key(text: str) -> str:
    """A key equal for texts that differ only in case, digits, punctuation or spacing."""
    norm = re.sub(r"\d", "0", text.lower())
    norm = re.sub(r"[^\w]+", " ", norm).strip()
    return hashlib.sha1(norm.encode()).hexdigest()[:16]


def deduplicate(examples: Sequence[Example]) -> tuple[list[Example], int]:
    """Drop repeats of (text up to whitespace, output), keeping the first; the same text with two labels
    is an error. The removed rows are counted (the data card) and listed as a warning on stderr."""
    seen: dict[str, Example] = {}
    kept: list[Example] = []
    errors: list[str] = []
    for ex in examples:
        key = " ".join(ex.text.split())
        first = seen.get(key)
        if first is None:
            seen[key] = ex
            kept.append(ex)
        elif first.output != ex.output:
            errors.append(f"{ex.origin}: output: conflicts with {first.origin} for the same text "
                          f"({json.dumps(first.output)} vs {json.dumps(ex.output)})")
    raise_errors(errors, "rows (conflicting labels)")
    removed = [ex for ex in examples if seen[" ".join(ex.text.split())] is not ex]
    if removed:
        shown = ", ".join(f"{ex.origin} (repeats {seen[' '.join(ex.text.split())].origin})"
                          for ex in removed[:MAX_REPORTED_ERRORS])
        log.warning("removed %d duplicate rows (same text up to whitespace, same label): %s%s", len(removed),
                    shown, " ..." if len(removed) > MAX_REPORTED_ERRORS else "")
    return kept, len(removed)


def split_groups(groups: Iterable[str], val_fraction: float, test_fraction: float,
                 seed: int) -> dict[str, str]:
    """Assign each group to a split by seeded shuffle; every group's rows then share one split."""
    unique = sorted(set(groups))
    random.Random(seed).shuffle(unique)
    n = len(unique)
    n_test = max(1, round(n * test_fraction))
    n_val = round(n * val_fraction)
    if val_fraction > 0:
        n_val = max(1, n_val)
    if n_test + n_val >= n:
        raise DataError(f"only {n} distinct groups of examples: too few for a train/val/test split "
                        f"with val_fraction={val_fraction}, test_fraction={test_fraction}")
    out = {g: "test" for g in unique[:n_test]}
    out.update({g: "val" for g in unique[n_test:n_test + n_val]})
    out.update({g: "train" for g in unique[n_test + n_val:]})
    return out


def synthetic_splits(generator: Any, schema: dict[str, Any], n: int, val_fraction: float,
                     test_fraction: float, seed: int, train_examples: int = 0) -> dict[str, list[Example]]:
    """Template-disjoint splits: each intent's phrasing templates are divided between the splits,
    so test phrasings are never seen in training. ``train_examples`` (0: what ``n`` leaves) sets the train rows
    alone: every split draws from its own seed, so val and test do not change with it. A generator's optional
    ``train_only_templates()`` adds phrasings to the train split only, leaving val and test as they were."""
    assignment: dict[str, str] = {}
    for offset, (_, ids) in enumerate(sorted(generator.templates().items())):
        assignment.update(split_groups(ids, val_fraction, test_fraction, seed + offset))
    train_only = getattr(generator, "train_only_templates", None)
    for ids in (train_only() if callable(train_only) else {}).values():
        if clash := sorted(set(ids) & set(assignment)):
            raise DataError(f"train-only template ids also returned by templates(): {clash[:5]}")
        assignment.update(dict.fromkeys(ids, "train"))
    sizes = {"test": round(n * test_fraction), "val": round(n * val_fraction)}
    sizes["train"] = train_examples or n - sizes["test"] - sizes["val"]
    out: dict[str, list[Example]] = {}
    for i, split in enumerate(SPLITS):
        ids = {t for t, s in assignment.items() if s == split}
        rows = generator.generate(sizes[split], seed=seed * 1000 + i, template_ids=ids) if sizes[split] else []
        out[split] = [Example(text=r.text, output=canonical(r.output, schema), group=r.template,
                              origin=f"synthetic:{split}:{k}") for k, r in enumerate(rows)]
    return out


def remove_cross_split_duplicates(splits: dict[str, list[Example]]) -> tuple[dict[str, list[Example]], int]:
    """Drop val/test rows whose near-duplicate key occurs in train (or test rows matching val)."""
    seen = {near_duplicate_key(e.text) for e in splits["train"]}
    removed = 0
    out = {"train": list(splits["train"])}
    for split in ("val", "test"):
        kept = []
        for e in splits[split]:
            key = near_duplicate_key(e.text)
            if key in seen:
                removed += 1
            else:
                kept.append(e)
        out[split] = kept
        seen |= {near_duplicate_key(e.text) for e in kept}
    return out, removed


def to_chat_row(example: Example, schema: dict[str, Any], system_prompt: str) -> dict[str, Any]:
    """TRL's conversational prompt/completion format: the loss then covers only the completion."""
    return {
        "text": example.text,
        "output": example.output,
        "group": example.group,
        "prompt": prompt_messages(example.text, system_prompt),
        "completion": [{"role": "assistant", "content": canonical_json(example.output, schema)}],
    }


def prompt_messages(text: str, system_prompt: str) -> list[dict[str, str]]:
    """The prompt every stage uses, training and inference alike."""
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": text}]


def data_card(splits: dict[str, list[Example]], schema: dict[str, Any], **counts: int) -> dict[str, Any]:
    """Counts per enum value, the share of non-null values of nullable fields, the mean of integer fields
    and the mean item count of array fields, per split."""
    card: dict[str, Any] = dict(counts)
    for split, rows in splits.items():
        entry: dict[str, Any] = {"n": len(rows)}
        for name in field_names(schema):
            prop = schema["properties"][name]
            values = [r.output.get(name) for r in rows]
            if "enum" in prop:
                c = Counter(values)
                entry[name] = {str(v): c.get(v, 0) for v in prop["enum"]}
            elif None in values or "null" in str(prop.get("type")):
                entry[f"{name}_present"] = round(sum(v is not None for v in values) / max(1, len(rows)), 4)
            elif prop.get("type") == "integer":
                entry[f"{name}_mean"] = round(sum(values) / max(1, len(rows)), 4)
            elif prop.get("type") == "array":
                entry[f"{name}_mean_items"] = round(sum(len(v) for v in values) / max(1, len(rows)), 4)
        card[split] = entry
    return card


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file this pipeline wrote itself (errors still name file and line)."""
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
    return rows


def resolve_source(source: str, task: Task) -> str:
    """``task`` becomes the task's data.jsonl (else ``synthetic``); ``synthetic`` and file paths stay."""
    if source == "task":
        return str(task.data_path) if task.data_path is not None else "synthetic"
    return source


def check_train_examples(source: str, task: Task, train_examples: int) -> None:
    """``dataset.train_examples`` draws rows from a generator; a file source must leave it at 0. Run by the
    dataset stage and by ``check-params`` (the first step of ``make train``), which loads the task too."""
    resolved = resolve_source(source, task)
    if train_examples and resolved != "synthetic":
        raise DataError(f"dataset.train_examples: {train_examples} needs a generator source, but the examples "
                        f"come from {resolved}; set it to 0 (every row of the file is used)")


def build_splits(source: str, task: Task, n_examples: int, val_fraction: float, test_fraction: float,
                 seed: int, train_examples: int = 0) -> tuple[dict[str, list[Example]], dict[str, int]]:
    """The dataset stage's logic: examples from the task's generator or a JSONL file, split and checked.

    ``source`` is ``synthetic`` (the task's generator), ``task`` (the task's data.jsonl, else its
    generator) or the path of a JSONL file. ``train_examples`` (generator only; 0: what ``n_examples``
    leaves) sets the number of train rows without changing val and test.
    """
    counts = {"blank_lines": 0, "duplicates_removed": 0}
    schema = task.schema
    check_train_examples(source, task, train_examples)
    source = resolve_source(source, task)
    if source == "synthetic":
        if task.generator is None:
            raise DataError(f"dataset.source is 'synthetic' but task {task.name!r} ({task.folder}) has no "
                            "generator.py; use dataset.source: task (its data.jsonl) or a JSONL path")
        splits = synthetic_splits(task.generator, schema, n_examples, val_fraction, test_fraction, seed,
                                  train_examples)
        for rows in splits.values():
            for ex in rows:
                problems = schema_errors(ex.output, schema)
                if problems:
                    raise DataError(f"{ex.origin}: generator produced an invalid row: {problems[0]}")
    else:
        examples, counts["blank_lines"] = read_labelled_jsonl(source, schema)
        examples, counts["duplicates_removed"] = deduplicate(examples)
        assignment = split_groups((e.group for e in examples), val_fraction, test_fraction, seed)
        splits = {s: [e for e in examples if assignment[e.group] == s] for s in SPLITS}
    splits, counts["near_duplicates_removed"] = remove_cross_split_duplicates(splits)
    for split in SPLITS:
        if split != "val" and not splits[split]:
            raise DataError(f"the {split} split is empty; provide more examples")
    return splits, counts
