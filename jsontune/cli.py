"""Command-line entry points: ``jsontune predict``, ``jsontune check-params``, ``jsontune push`` and the shared ``main``
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
from jsontune.data import DataError, check_train_examples
from jsontune.pipeline import extra_set_paths
from jsontune.resources import ResourceError, check_memory
from jsontune.schema import SchemaFileError
from jsontune.tasks import TaskError, load_task

USER_ERRORS: tuple[type[Exception], ...] = (ParamsError, DataError, SchemaFileError, TaskError, ResourceError,
                                             FileNotFoundError)


def _user_errors() -> tuple[type[Exception], ...]:
    errors = USER_ERRORS
    models = sys.modules.get("jsontune.models")  # only code that imported it can raise ModelError; no torch here
    if models:
        errors = (*errors, models.ModelError)
    generation = sys.modules.get("jsontune.generation")
    if generation:
        errors = (*errors, generation.ConstrainedDecodingError)
    return errors


def stage_main(run: Callable[[Params, Path], Any], argv: Sequence[str] | None = None,
               distributed: bool = False) -> None:
    """Parse ``--params``/``--root``, run one stage and print its summary. A ``distributed`` stage runs
    on ``JSONTUNE_NPROC`` processes under ``accelerate launch`` when more than one is requested."""
    from jsontune import launch

    doc = (run.__doc__ or "").strip()
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--params", default=str(DEFAULT_PARAMS), help="params file (default: params.yaml)")
    parser.add_argument("--root", default=".", help="workspace the stage reads and writes (default: .)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        if distributed:
            status = launch.relaunch(sys.argv[0], argv)
            if status is not None:
                raise SystemExit(status)
            launch.configure_rank()
        result = run(load_params(args.params), Path(args.root))
    except (*_user_errors(), launch.LaunchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if launch.is_main_process():
        print(json.dumps(result, indent=2, default=str))


def _check_params(args: argparse.Namespace) -> int:
    params = load_params(args.file)
    task = load_task(params.task.name, params.task.system_prompt)  # the task folder is part of the configuration
    check_train_examples(params.dataset.source, task, params.dataset.train_examples)
    extra_set_paths(params, Path("."), task)
    if check_memory(params) is None:  # fail now, not when the OOM killer stops training an hour in
        print(f"{args.file}: memory not checked: {params.model.name} has no local config.json (a hub model "
              "not downloaded yet), so its size is unknown", file=sys.stderr)
    print(f"{args.file}: ok")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from jsontune.predict import predict_file

    n = predict_file(args.model, args.input, args.output, params_file=args.params, adapter=args.adapter,
                     batch_size=args.batch_size, decoding=args.decoding)
    where = "stdout" if args.output == "-" else args.output
    print(f"wrote {n} prediction{'' if n == 1 else 's'} to {where}", file=sys.stderr)
    return 0


def _push(args: argparse.Namespace) -> int:
    from jsontune.hub import push

    url = push(args.model, args.repo_id, private=not args.public)
    print(f"uploaded {args.model} to {args.repo_id}: {url}", file=sys.stderr)
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
    pred.add_argument("--params", default=None,
                      help="params file for generation settings, and for the task unless the model carries "
                           "its own (jsontune_task.json, written by the merge stage) (default: params.yaml)")
    pred.add_argument("--batch-size", type=int, default=None)
    pred.add_argument("--decoding", choices=("free", "constrained"), default="free",
                      help="constrained: only tokens that keep the answer valid under the task's schema (xgrammar)")
    pred.set_defaults(func=_predict)
    push = sub.add_parser("push", help="upload a merged model or adapter to the Hugging Face hub (token: HF_TOKEN)")
    push.add_argument("--model", required=True, help="runs/merged, or an adapter such as runs/dpo/adapter")
    push.add_argument("--repo-id", required=True, help="hub repository, e.g. your-name/jsontune-support-ticket")
    push.add_argument("--public", action="store_true", help="create the repository public (default: private)")
    push.set_defaults(func=_push)
    args = parser.parse_args(argv)
    from jsontune.hub import HubError

    try:
        return args.func(args)
    except (*_user_errors(), HubError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
