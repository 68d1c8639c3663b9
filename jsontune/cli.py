"""Command-line entry points: ``jsontune predict``, ``jsontune check-params`` and the shared ``main``
of the ``stages/*.py`` scripts.

Known failure modes (bad params, bad data, missing model) exit with status 2 and one clear message
instead of a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jsontune.config import DEFAULT_PARAMS, Params, ParamsError, load_params
from jsontune.data import DataError
from jsontune.schema import SchemaFileError

USER_ERRORS: tuple[type[Exception], ...] = (ParamsError, DataError, SchemaFileError, FileNotFoundError)


def _user_errors() -> tuple[type[Exception], ...]:
    errors = USER_ERRORS
    models = sys.modules.get("jsontune.models")  # only code that imported it can raise ModelError; no torch here
    if models:
        errors = (*errors, models.ModelError)
    generation = sys.modules.get("jsontune.generation")
    if generation:
        errors = (*errors, generation.ConstrainedDecodingError)
    return errors


def stage_main(run: Callable[[Params, Path], Any], argv: Sequence[str] | None = None) -> None:
    """Parse ``--params``/``--root``, run one stage and print its summary."""
    doc = (run.__doc__ or "").strip()
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--params", default=str(DEFAULT_PARAMS), help="params file (default: params.yaml)")
    parser.add_argument("--root", default=".", help="workspace the stage reads and writes (default: .)")
    args = parser.parse_args(argv)
    try:
        result = run(load_params(args.params), Path(args.root))
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(result, indent=2, default=str))


def _check_params(args: argparse.Namespace) -> int:
    load_params(args.file)
    print(f"{args.file}: ok")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from jsontune.predict import predict_file

    n = predict_file(args.model, args.input, args.output, params_file=args.params, adapter=args.adapter,
                     batch_size=args.batch_size, decoding=args.decoding)
    print(f"wrote {n} predictions to {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jsontune", description="Fine-tune small LLMs to emit strict JSON.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-params", help="validate a params file before any work")
    check.add_argument("file", nargs="?", default=str(DEFAULT_PARAMS))
    check.set_defaults(func=_check_params)
    pred = sub.add_parser("predict", help="turn messages into JSON with a fine-tuned model")
    pred.add_argument("--model", required=True, help="a merged checkpoint directory, or the base model")
    pred.add_argument("--adapter", help="a LoRA adapter directory to apply on top of --model")
    pred.add_argument("--input", required=True, help="JSONL with a 'text' field per line, or - for stdin")
    pred.add_argument("--output", default="-", help="JSONL to write (default: stdout)")
    pred.add_argument("--params", default=str(DEFAULT_PARAMS),
                      help="params file for the schema and system prompt (default: params.yaml)")
    pred.add_argument("--batch-size", type=int, default=None)
    pred.add_argument("--decoding", choices=("free", "constrained"), default="free",
                      help="constrained: only tokens that keep the answer valid under the task's schema (xgrammar)")
    pred.set_defaults(func=_predict)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
