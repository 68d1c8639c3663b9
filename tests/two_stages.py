"""sft then dpo in one `accelerate launch` (tests/test_multiprocess.py): the same stage_main relaunch
path as stages/sft.py and stages/dpo.py, with the imports paid once."""

from pathlib import Path
from typing import Any

from jsontune.cli import stage_main
from jsontune.config import Params
from jsontune.pipeline import run_dpo, run_sft


def run_sft_then_dpo(params: Params, root: Path) -> dict[str, Any]:
    """Train the SFT adapter, then DPO from it."""
    return {"sft": run_sft(params, root), "dpo": run_dpo(params, root)}


if __name__ == "__main__":
    stage_main(run_sft_then_dpo, distributed=True)
