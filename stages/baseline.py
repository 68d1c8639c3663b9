"""Evaluate the untouched base model on the test split.

    dvc repro baseline       # or: python stages/baseline.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_baseline

if __name__ == "__main__":
    stage_main(run_baseline)
