"""Batch prediction on new messages with a merged checkpoint or base model + adapter.

A merged checkpoint carries the task it was trained for (``jsontune_task.json``: system prompt, schema,
``max_new_tokens``), and that task wins over ``params.yaml``'s: the model only answers well with the
prompt it was trained on. Without that file (a base model, base + ``--adapter``) the task comes from the
params file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from jsontune.config import DEFAULT_PARAMS, Params, load_params, params_from_dict
from jsontune.data import DataError, by_line, jsonl_objects, prompt_messages, raise_errors
from jsontune.metrics import parse_output
from jsontune.schema import is_valid
from jsontune.tasks import MODEL_TASK_FILE, ModelTask, load_model_task, load_task


def read_texts(stream: IO[bytes] | IO[str], name: str) -> list[dict[str, Any]]:
    """Rows with a non-empty ``text``; any bad line is an error naming ``file:line`` (the training-data
    line parser: bytes that are not UTF-8 are reported, not a crash)."""
    data = stream.read()
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    parsed, errors, _ = jsonl_objects(raw, name)
    rows = []
    for where, row in parsed:
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            errors.append(f"{where}: text: missing or not a non-empty string")
        else:
            rows.append(row)
    raise_errors(by_line(errors, name), "rows")
    return rows


def predict_rows(model: Any, tokenizer: Any, rows: list[dict[str, Any]], schema: dict[str, Any],
                 system_prompt: str, batch_size: int, max_new_tokens: int, decoding: str = "free"
                 ) -> list[dict[str, Any]]:
    from jsontune.generation import generate

    raws = generate(model, tokenizer, [prompt_messages(r["text"], system_prompt) for r in rows],
                    batch_size=batch_size, max_new_tokens=max_new_tokens, desc="predicting",
                    decoding=decoding, schema=schema)
    out = []
    for row, raw in zip(rows, raws, strict=True):
        parsed = parse_output(raw)
        out.append({**row, "output": parsed, "raw": raw, "json_valid": parsed is not None,
                    "schema_valid": parsed is not None and is_valid(parsed, schema)})
    return out


def prediction_setup(model_dir: str, params_file: str | None) -> tuple[Params, dict[str, Any], str]:
    """The params, schema and system prompt to predict with. ``params_file=None`` means ``params.yaml``
    if there is one; a checkpoint that carries its task also runs without any (defaults, its
    ``max_new_tokens``)."""
    saved = load_model_task(model_dir)
    if params_file is None and saved is not None and not DEFAULT_PARAMS.is_file():
        params = params_from_dict({}, "defaults")
        params.generation.max_new_tokens = saved.max_new_tokens
    else:
        params = load_params(params_file or DEFAULT_PARAMS)
    if saved is None:
        task = load_task(params.task.name, params.task.system_prompt)
        return params, task.schema, task.system_prompt
    _note_task_override(model_dir, saved, params)
    return params, saved.schema, saved.system_prompt


def _note_task_override(model_dir: str, saved: ModelTask, params: Params) -> None:
    if params.task.name != saved.name or params.task.system_prompt.strip() not in ("", saved.system_prompt):
        print(f"note: {model_dir} was trained for task {saved.name!r}; predicting with its saved system prompt "
              f"and schema ({MODEL_TASK_FILE}), not the params file's task {params.task.name!r}", file=sys.stderr)


def predict_file(model_dir: str, input_path: str, output_path: str, params_file: str | None = None,
                 adapter: str | None = None, batch_size: int | None = None, decoding: str = "free") -> int:
    from jsontune.models import load_for_inference, load_tokenizer

    params, schema, system_prompt = prediction_setup(model_dir, params_file)
    model_params = replace(params.model, name=model_dir)
    if input_path == "-":
        rows = read_texts(sys.stdin.buffer, "<stdin>")
    else:
        path = Path(input_path)
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        with path.open("rb") as fh:
            rows = read_texts(fh, str(path))
    tok = load_tokenizer(model_params)
    model = load_for_inference(model_params, adapter)
    results = predict_rows(model, tok, rows, schema, system_prompt,
                           batch_size or params.generation.batch_size, params.generation.max_new_tokens,
                           decoding=decoding)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if output_path == "-":
        sys.stdout.write(lines)
    else:
        Path(output_path).parent.mkdir(parents=True, exist_ok=True)
        Path(output_path).write_text(lines, encoding="utf-8")
    return len(results)
