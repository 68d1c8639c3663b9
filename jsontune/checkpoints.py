"""Resumable training: checkpoints kept outside DVC's outputs, keyed by everything that decides the result.

DVC deletes a stage's outputs before it reruns the stage, so checkpoints live in
``runs/checkpoints/<stage>-<key>/``, a path no stage declares. The key hashes the stage's params, the model
params and checkpoint files, the training data, any input file (e.g. the SFT adapter DPO starts from),
``jsontune/training.py`` and the versions of the training libraries: a changed param, input or training
code gets a fresh directory, so a stale run is never resumed. A stage that finishes removes its checkpoints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

CHECKPOINTS = "runs/checkpoints"
LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate")
# Files up to this size are hashed by content; larger ones (base model weights) by size and mtime.
_CONTENT_HASH_LIMIT = 64 << 20
_STEP = re.compile(r"^checkpoint-(\d+)$")


def _fingerprint(path: Path) -> Any:
    if path.is_dir():
        return {str(p.relative_to(path)): _fingerprint(p) for p in sorted(path.rglob("*")) if p.is_file()}
    if not path.is_file():
        return None
    stat = path.stat()
    if stat.st_size > _CONTENT_HASH_LIMIT:
        return [stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, Path):  # by content only: the same data in another workspace gives the same key
        return {"file": _fingerprint(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot hash {type(value).__name__} into a checkpoint key")


def run_key(*parts: Any) -> str:
    """A short hash of params (dataclasses), JSON data and files/directories (``Path``: by content)."""
    versions = {lib: metadata.version(lib) for lib in LIBRARIES}
    code = _fingerprint(Path(__file__).with_name("training.py"))  # a changed loss must not resume either
    blob = json.dumps([versions, code, *parts], sort_keys=True, default=_encode, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_dir(base: str | Path, stage: str, *parts: Any) -> Path:
    """Where one stage run with exactly these inputs keeps its checkpoints."""
    return Path(base) / f"{stage}-{run_key(*parts)}"


def checkpoint_step(checkpoint: str | Path) -> int:
    match = _STEP.match(Path(checkpoint).name)
    if not match:
        raise ValueError(f"{checkpoint}: not a checkpoint directory (checkpoint-<step>)")
    return int(match.group(1))


def last_checkpoint(directory: str | Path) -> Path | None:
    """The newest *complete* checkpoint: the trainer writes ``trainer_state.json`` last, so a directory
    without it was cut off while saving and is skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    done = [p for p in directory.iterdir() if _STEP.match(p.name) and (p / "trainer_state.json").is_file()]
    return max(done, key=checkpoint_step, default=None)


def clear(base: str | Path, stage: str) -> None:
    """Remove every checkpoint directory of a stage (called once the stage has finished)."""
    base = Path(base)
    if base.is_dir():
        for path in base.glob(f"{stage}-*"):
            shutil.rmtree(path, ignore_errors=True)
