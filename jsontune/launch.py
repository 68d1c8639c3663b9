"""Run the training stages on N processes with ``accelerate launch``: DDP by default, FSDP (or any
accelerate setup) through a config file such as ``configs/accelerate/fsdp.yaml``.

The process count is hardware, not a training param, so it comes from the environment
(``make train NPROC=2`` exports ``JSONTUNE_NPROC=2``) and ``dvc.yaml`` keeps its ``python stages/sft.py``
commands: the stage script relaunches itself under accelerate. Each rank then runs the same stage; only
the main process writes outputs and metrics. On a machine without a GPU the ranks use gloo on CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

NPROC_ENV = "JSONTUNE_NPROC"
CONFIG_ENV = "JSONTUNE_ACCELERATE_CONFIG"


class LaunchError(ValueError):
    """A bad process count or accelerate config in the environment."""


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on the process that writes outputs (rank 0, or the only process)."""
    return int(os.environ.get("RANK", "0")) == 0


def requested_processes() -> int:
    raw = os.environ.get(NPROC_ENV, "").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise LaunchError(f"{NPROC_ENV}={raw!r}: expected a whole number of processes >= 1 (e.g. make train NPROC=2)")
    return int(raw)


def accelerate_command(script: str, argv: Sequence[str], nproc: int, config: str | None) -> list[str]:
    """``accelerate launch`` for this script (one machine): the given config file, or plain DDP. Port 0
    lets accelerate pick a free port for the ranks to meet on, so two runs on one machine do not collide."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(nproc),
           "--main_process_port", "0"]
    if config:
        if not os.path.isfile(config):
            raise LaunchError(f"{CONFIG_ENV}={config}: accelerate config file not found")
        cmd += ["--config_file", config]
    else:
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return [*cmd, script, *argv]


def relaunch(script: str, argv: Sequence[str]) -> int | None:
    """Run ``script argv`` under accelerate when more than one process is requested and this process is
    not already a rank; returns its exit status, or None when the caller should just run the stage."""
    nproc = requested_processes()
    if nproc == 1 or "LOCAL_RANK" in os.environ:
        return None
    config = os.environ.get(CONFIG_ENV, "").strip() or None
    return subprocess.run(accelerate_command(script, argv, nproc, config)).returncode


def configure_rank() -> None:
    """Inside a multi-process launch without a GPU, train with gloo on CPU (transformers reads this)."""
    if world_size() > 1:
        import torch

        if not torch.cuda.is_available():
            os.environ.setdefault("ACCELERATE_USE_CPU", "true")


def share_from_main(obj: Any) -> Any:
    """Every rank gets the main process's ``obj``, so data built once (e.g. DPO pairs from sampled
    answers) is identical on all ranks; a no-op in a single process."""
    if world_size() == 1:
        return obj
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    PartialState(cpu=not torch.cuda.is_available())  # joins the process group (gloo on CPU, nccl on GPU)
    box = [obj]
    broadcast_object_list(box, from_process=0)
    return box[0]
