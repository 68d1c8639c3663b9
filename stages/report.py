"""Write the reviewer's report (reports/eval.md), its PNG charts and the `dvc plots` data.

    dvc repro report         # or: python stages/report.py [--params params.yaml] [--root .]
"""

from jsontune.cli import stage_main
from jsontune.pipeline import run_report

if __name__ == "__main__":
    stage_main(run_report)
