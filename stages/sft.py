"""LoRA/QLoRA supervised fine-tuning, loss on the answer tokens only.

    dvc repro sft            # or: python stages/sft.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_sft

if __name__ == "__main__":
    stage_main(run_sft, distributed=True)
