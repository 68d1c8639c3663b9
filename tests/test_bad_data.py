"""The bad-data corpus in tests/data/bad/: every file either fails with ``file:line: field: reason`` for
each bad row, or is accepted with a documented handling that is counted (blank lines, duplicates,
BOM, CRLF). Nothing is dropped or altered silently. The same line parser reads ``jsontune predict`` input."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jsontune.cli import stage_main
from jsontune.config import Params
from jsontune.data import MAX_LINE_CHARS, DataError, build_splits, deduplicate, read_labelled_jsonl
from jsontune.pipeline import run_dataset
from jsontune.predict import read_texts
from jsontune.tasks import load_task
from jsontune.tasks.support_ticket import generator

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "data" / "bad"
INTENTS = list(generator.INTENTS)

# file -> every line of the error message after the "N invalid rows in FILE:" header ({f} is the path)
ERRORS = {
    "truncated-line.jsonl": ["{f}:2: (line): not valid JSON: Unterminated string starting at column 105"],
    "trailing-comma.jsonl": ["{f}:2: (line): not valid JSON: Expecting property name enclosed in double quotes "
                             "at column 90"],
    "non-utf8.jsonl": ["{f}:2: (line): not valid UTF-8 at byte 13"],
    "not-an-object.jsonl": ["{f}:2: (line): expected a JSON object, got list",
                            "{f}:3: (line): expected a JSON object, got str"],
    "nan.jsonl": ["{f}:1: (line): not valid JSON: NaN is not JSON"],
    "duplicate-key.jsonl": ["{f}:1: text: key repeated in one object (JSON keys must be unique)",
                            "{f}:2: urgency: key repeated in one object (JSON keys must be unique)"],
    "surrogate.jsonl": ["{f}:1: text: unpaired UTF-16 surrogate escape (not valid Unicode)"],
    "wrong-types.jsonl": ["{f}:1: text: expected a non-empty string, got int",
                          "{f}:2: output: missing or not an object (got str)",
                          "{f}:3: output.order_id: 12345 is not of type 'string', 'null'",
                          "{f}:4: source: expected a string, got int"],
    "extra-key.jsonl": ["{f}:2: output: Additional properties are not allowed ('sentiment' was unexpected)",
                        "{f}:3: label: unknown key (allowed: text, output, source)"],
    "missing-key.jsonl": ["{f}:1: output: 'order_id' is a required property",
                          "{f}:2: text: missing or empty (expected a non-empty string)",
                          "{f}:3: output: missing or not an object"],
    "bad-enum.jsonl": [f"{{f}}:1: output.intent: 'MONEY_BACK' is not one of {INTENTS}",
                       "{f}:2: output.urgency: 'CRITICAL' is not one of ['LOW', 'MEDIUM', 'HIGH']"],
    "wrong-case.jsonl": ["{f}:1: output.urgency: 'high' is not one of ['LOW', 'MEDIUM', 'HIGH']",
                         "{f}:2: Text: unknown key; did you mean 'text'? (allowed: text, output, source)",
                         "{f}:3: output: Additional properties are not allowed ('Intent' was unexpected)",
                         "{f}:3: output: 'intent' is a required property"],
    "empty-text.jsonl": ["{f}:1: text: missing or empty (expected a non-empty string)",
                         "{f}:2: text: missing or empty (expected a non-empty string)",
                         "{f}:3: text: missing or empty (expected a non-empty string)"],
}
WHOLE_FILE_ERRORS = {"empty.jsonl": "{f}: file is empty", "only-blank-lines.jsonl": "{f}: no rows (only blank lines)"}
# file -> (rows kept, blank lines counted)
ACCEPTED = {"bom.jsonl": (2, 0), "crlf.jsonl": (2, 0), "blank-lines.jsonl": (2, 4),
            "conflicting-labels.jsonl": (3, 0), "duplicate-rows.jsonl": (13, 0)}


def test_every_corpus_file_has_an_expectation() -> None:
    names = {p.name for p in BAD.glob("*.jsonl")}
    assert names == set(ERRORS) | set(WHOLE_FILE_ERRORS) | set(ACCEPTED)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_rows_fail_with_file_line_and_field(name: str, schema: dict) -> None:
    path = BAD / name
    with pytest.raises(DataError) as info:
        read_labelled_jsonl(path, schema)
    expected = [line.format(f=path) for line in ERRORS[name]]
    assert str(info.value).splitlines() == [f"{len(expected)} invalid rows in {path}:", *expected]


@pytest.mark.parametrize("name", sorted(WHOLE_FILE_ERRORS))
def test_files_without_rows_are_errors(name: str, schema: dict) -> None:
    path = BAD / name
    with pytest.raises(DataError) as info:
        read_labelled_jsonl(path, schema)
    assert str(info.value) == WHOLE_FILE_ERRORS[name].format(f=path)


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_files_keep_every_row_verbatim(name: str, schema: dict) -> None:
    path = BAD / name
    examples, blank = read_labelled_jsonl(path, schema)
    assert (len(examples), blank) == ACCEPTED[name]
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8").splitlines()
    rows = [json.loads(line) for line in raw if line.strip()]
    assert [e.text for e in examples] == [r["text"] for r in rows]  # text is never stripped or changed
    assert [e.output for e in examples] == [r["output"] for r in rows]
    assert [e.origin for e in examples] == [f"{path}:{i + 1}" for i, line in enumerate(raw) if line.strip()]


@pytest.fixture(scope="module")
def ten_mb_line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated here: 10 MB is not committed."""
    path = tmp_path_factory.mktemp("big") / "ten-mb-line.jsonl"
    big = json.dumps({"text": "x" * 10_000_000, "output": {"intent": "OTHER", "urgency": "LOW", "order_id": None}})
    good = json.dumps({"text": "hello", "output": {"intent": "OTHER", "urgency": "LOW", "order_id": None}})
    path.write_text(f"{good}\n{big}\n{good}\n", encoding="utf-8")
    return path


def test_ten_mb_line_is_refused_by_size_not_parsed(ten_mb_line: Path, schema: dict) -> None:
    size = len(ten_mb_line.read_text(encoding="utf-8").splitlines()[1])
    with pytest.raises(DataError) as info:
        read_labelled_jsonl(ten_mb_line, schema)
    assert str(info.value) == (f"1 invalid rows in {ten_mb_line}:\n"
                               f"{ten_mb_line}:2: (line): {size} characters, more than the limit of {MAX_LINE_CHARS}")


# ---------------------------------------------------------------- duplicates and conflicting labels


def test_duplicates_are_removed_counted_in_the_data_card_and_listed(tmp_path: Path, caplog) -> None:
    source = tmp_path / "rows.jsonl"
    shutil.copy(BAD / "duplicate-rows.jsonl", source)
    params = Params()
    params.dataset.source, params.dataset.train_examples = str(source), 0
    with caplog.at_level(logging.WARNING, logger="jsontune.data"):
        card = run_dataset(params, tmp_path)
    assert card["duplicates_removed"] == 3
    assert json.loads((tmp_path / "metrics/data.json").read_text()) == card
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = sum(card[s]["n"] for s in ("train", "val", "test"))
    assert kept + card["duplicates_removed"] + card["near_duplicates_removed"] + card["blank_lines"] == len(lines)
    written = [json.loads(x)["text"] for s in ("train", "val", "test")
               for x in (tmp_path / f"data/{s}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(written) == sorted({" ".join(json.loads(x)["text"].split()): json.loads(x)["text"]
                                      for x in reversed(lines)}.values())  # the first of each repeat is kept
    (message,) = [r.getMessage() for r in caplog.records]
    assert message == (f"removed 3 duplicate rows (same text up to whitespace, same label): {source}:4 (repeats "
                       f"{source}:1), {source}:5 (repeats {source}:2), {source}:13 (repeats {source}:12)")


def test_conflicting_labels_fail_the_dataset_stage_naming_both_lines(tmp_path: Path, capsys) -> None:
    source = BAD / "conflicting-labels.jsonl"
    (tmp_path / "params.yaml").write_text(f"dataset:\n  source: {source}\n  train_examples: 0\n"
                                          "task:\n  name: support_ticket\n")
    with pytest.raises(SystemExit) as info:
        stage_main(run_dataset, ["--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 invalid rows (conflicting labels):\n"
                          f"{source}:3: output: conflicts with {source}:1 for the same text (")
    assert not (tmp_path / "data").exists()


def test_conflict_is_found_up_to_whitespace(schema: dict) -> None:
    examples, _ = read_labelled_jsonl(BAD / "duplicate-rows.jsonl", schema)
    spaced = examples[4]
    assert spaced.text != examples[1].text and spaced.output == examples[1].output
    other = type(spaced)(text=spaced.text, output={**spaced.output, "urgency": "HIGH"}, group=spaced.group,
                         origin=spaced.origin)
    with pytest.raises(DataError, match=f"{spaced.origin}: output: conflicts with {examples[1].origin}"):
        deduplicate([*examples[:4], other])


def test_bad_source_file_fails_before_splitting(schema: dict) -> None:
    with pytest.raises(DataError, match="invalid rows in"):
        build_splits(str(BAD / "bad-enum.jsonl"), load_task("support_ticket"), 10, 0.1, 0.2, 0)


# ---------------------------------------------------------------- jsontune predict input: the same parser

PREDICT_ERRORS = {
    "truncated-line.jsonl": ERRORS["truncated-line.jsonl"],
    "trailing-comma.jsonl": ERRORS["trailing-comma.jsonl"],
    "non-utf8.jsonl": ERRORS["non-utf8.jsonl"],
    "not-an-object.jsonl": ERRORS["not-an-object.jsonl"],
    "nan.jsonl": ERRORS["nan.jsonl"],
    "duplicate-key.jsonl": ERRORS["duplicate-key.jsonl"],
    "surrogate.jsonl": ERRORS["surrogate.jsonl"],
    "empty-text.jsonl": [f"{{f}}:{i}: text: missing or not a non-empty string" for i in (1, 2, 3)],
}


@pytest.mark.parametrize("name", sorted(PREDICT_ERRORS))
def test_predict_input_uses_the_same_line_errors(name: str) -> None:
    path = BAD / name
    with pytest.raises(DataError) as info, path.open("rb") as fh:
        read_texts(fh, str(path))
    expected = [line.format(f=path) for line in PREDICT_ERRORS[name]]
    assert str(info.value).splitlines() == [f"{len(expected)} invalid rows:", *expected]


@pytest.mark.parametrize("name", ["bom.jsonl", "crlf.jsonl", "blank-lines.jsonl", "empty.jsonl"])
def test_predict_input_accepts_bom_crlf_and_blank_lines(name: str) -> None:
    with (BAD / name).open("rb") as fh:
        rows = read_texts(fh, name)
    assert len(rows) == ACCEPTED.get(name, (0, 0))[0]
    assert all(not r["text"].endswith("\r") for r in rows)


def test_predict_input_refuses_the_ten_mb_line(ten_mb_line: Path) -> None:
    with pytest.raises(DataError, match=rf"^1 invalid rows:\n{ten_mb_line}:2: \(line\): \d+ characters, more than"):
        with ten_mb_line.open("rb") as fh:
            read_texts(fh, str(ten_mb_line))


def test_predict_stdin_with_non_utf8_bytes_is_a_clear_error() -> None:
    stream = io.BytesIO(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"^1 invalid rows:\n<stdin>:2: \(line\): not valid UTF-8 at byte 13$"):
        read_texts(stream, "<stdin>")


# ---------------------------------------------------------------- bad params: check-params and make train


def _bad_params(tmp_path: Path, section: str, key: str, value: object, rename: str | None = None) -> Path:
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    node = data[section]
    for part in key.split(".")[:-1]:
        node = node[part]
    last = key.split(".")[-1]
    if rename is not None:
        node[rename] = node.pop(last)
    else:
        node[last] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


BAD_PARAMS = {
    "misspelled-key": (("sft", "learning_rate", None, "learnig_rate"),
                       "sft.learnig_rate: unknown key; did you mean 'learning_rate'?"),
    "nested-misspelled-key": (("sft", "lora.alpha", None, "alhpa"),
                              "sft.lora.alhpa: unknown key; did you mean 'alpha'?"),
    "wrong-type": (("sft", "batch_size", "four", None), "sft.batch_size: 'four' is not int"),
    "bool-for-int": (("dpo", "n_prompts", True, None), "dpo.n_prompts: True is not int"),
    "out-of-range": (("sft", "lora.dropout", 1.5, None), "sft.lora.dropout: 1.5 is out of range [0.0, 0.9]"),
    "negative-save-steps": (("sft", "save_steps", -1, None), "sft.save_steps: -1 is out of range [0, 1000000]"),
    "bad-enum": (("model", "quantization", "int4", None), "model.quantization: 'int4' is not one of 'none', 'nf4'"),
    "wrong-case-enum": (("merge", "adapter", "DPO", None), "merge.adapter: 'DPO' is not one of 'dpo', 'sft', 'best'"),
    "bad-optimizer": (("sft", "optimizer", "adamw_torh", None),
                      "sft.optimizer: 'adamw_torh' is not allowed; did you mean 'adamw_torch'? "
                      "(allowed: adamw_torch, adamw_torch_fused, "),
    "bad-scheduler": (("dpo", "lr_scheduler", "cosine_anneal", None),
                      "dpo.lr_scheduler: 'cosine_anneal' is not allowed; did you mean 'cosine'? (allowed: linear, "
                      "cosine, cosine_with_restarts, polynomial, constant, constant_with_warmup, inverse_sqrt)"),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_check_params_names_key_value_and_allowed(case: str, tmp_path: Path, capsys) -> None:
    from jsontune.cli import main

    (section, key, value, rename), message = BAD_PARAMS[case]
    path = _bad_params(tmp_path, section, key, value, rename)
    assert main(["check-params", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {path}: {message}") and err.count("\n") == 1


def test_python_m_check_params_on_a_bad_file(tmp_path: Path) -> None:
    path = _bad_params(tmp_path, "sft", "optimizer", "adamw_torh")
    proc = subprocess.run([sys.executable, "-m", "jsontune", "check-params", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {path}: sft.optimizer: 'adamw_torh' is not allowed; did you mean")


def test_every_allowed_optimizer_and_scheduler_works_in_transformers(tmp_path: Path) -> None:
    import torch
    from transformers import Trainer, TrainingArguments, get_scheduler

    from jsontune.config import LR_SCHEDULERS, OPTIMIZERS

    for optim in OPTIMIZERS:
        Trainer.get_optimizer_cls_and_kwargs(TrainingArguments(output_dir=str(tmp_path), optim=optim, report_to=[]))
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for name in LR_SCHEDULERS:
        get_scheduler(name, optimizer, num_warmup_steps=1, num_training_steps=10)


def _make_train_sandbox(tmp_path: Path) -> Path:
    """A copy of what ``make train`` needs, with setup and the model already 'done' (system-python mode)."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / ".system-python-ok").touch()
    (tmp_path / "models/SmolLM2-135M-Instruct").mkdir(parents=True)
    (tmp_path / "models/SmolLM2-135M-Instruct/model.safetensors").touch()
    return tmp_path


def test_make_train_checks_params_before_running_the_pipeline(tmp_path: Path) -> None:
    sandbox = _make_train_sandbox(tmp_path)
    plan = subprocess.run(["make", "-n", "train", "JSONTUNE_SYSTEM_PYTHON=1"], cwd=sandbox, capture_output=True,
                          text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    commands = plan.stdout.splitlines()
    check = next(i for i, c in enumerate(commands) if "jsontune check-params params.yaml" in c)
    repro = next(i for i, c in enumerate(commands) if "dvc repro" in c)
    assert check < repro


def test_make_train_stops_on_a_bad_params_file_before_dvc(tmp_path: Path) -> None:
    sandbox = _make_train_sandbox(tmp_path)
    _bad_params(sandbox, "dpo", "beta", 0, None)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(["make", "train", "JSONTUNE_SYSTEM_PYTHON=1"], cwd=sandbox, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "error: params.yaml: dpo.beta: 0.0 is out of range [0.0001, 10.0]" in proc.stderr
    assert "dvc repro" not in proc.stdout and not (sandbox / "dvc.lock").exists()
