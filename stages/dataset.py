"""Build the train/val/test splits and the data card.

    dvc repro dataset        # or: python stages/dataset.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_dataset

if __name__ == "__main__":
    stage_main(run_dataset)
