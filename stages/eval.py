"""Evaluate the SFT and DPO adapters and write the side-by-side report.

    dvc repro eval           # or: python stages/eval.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_eval

if __name__ == "__main__":
    stage_main(run_eval)
