"""DPO from the SFT adapter with hard single-flaw negatives and on-policy negatives.

    dvc repro dpo            # or: python stages/dpo.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_dpo

if __name__ == "__main__":
    stage_main(run_dpo, distributed=True)
