"""Merge the chosen adapter into full-precision weights and verify it against the adapter.

    dvc repro merge          # or: python stages/merge.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_merge

if __name__ == "__main__":
    stage_main(run_merge)
