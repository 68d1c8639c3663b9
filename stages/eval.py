"""Evaluate the SFT and DPO adapters on test and the external sets, and on val to pick the one to merge.

    dvc repro eval           # or: python stages/eval.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_eval

if __name__ == "__main__":
    stage_main(run_eval)
