"""Pipeline: wall time and peak RSS of each ``dvc repro`` stage from scratch, the no-op ``dvc repro``,
and ``dvc repro`` after changing only ``dpo.beta``, all in a scratch copy of the repo (your ``dvc.lock``,
outputs and DVC cache are never touched).

    python bench/bench_pipeline.py              # the embedded default: ~20 min on 2 cores (make bench-pipeline)
    python bench/bench_pipeline.py --tiny       # the bench itself on a tiny random model (~2 min; no results)
    python bench/bench_pipeline.py --set dataset.n_examples=200 ...   # params overrides in the copy

The copy holds the git-tracked files committed into a fresh git repo (DVC and dvclive want one), no
``dvc.lock`` and a link to ``models/``. Each stage runs as ``dvc repro -s <stage>`` under a small wrapper process whose
``getrusage(RUSAGE_CHILDREN)`` gives that stage's peak RSS (the largest process: the stage's python).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import common

DPO_BETA_KEY = "dpo.beta"


def stage_names(dvc_yaml: Path) -> list[str]:
    return list(yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"])


def set_param(params: dict[str, Any], dotted: str, raw: str) -> None:
    """Set ``a.b.c`` in a params mapping, the value parsed as YAML (so numbers stay numbers)."""
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        if not isinstance(node.get(key), dict):
            raise KeyError(f"params.yaml: {dotted}: no section '{key}'")
        node = node[key]
    if leaf not in node:
        raise KeyError(f"params.yaml: {dotted}: unknown key '{leaf}'")
    node[leaf] = yaml.safe_load(raw)


def ran_stages(dvc_output: str) -> list[str]:
    """Names of the stages ``dvc repro`` actually ran (it prints "Running stage 'x':")."""
    return re.findall(r"Running stage '([^']+)'", dvc_output)


def make_copy(dest: Path, overrides: list[str]) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=common.REPO, check=True, stdout=subprocess.PIPE,
                           text=True).stdout.split("\0")
    for rel in filter(None, files):
        if rel == "dvc.lock" or not (common.REPO / rel).exists():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(common.REPO / rel, target, follow_symlinks=False)
    if (common.REPO / "models").exists():
        (dest / "models").symlink_to((common.REPO / "models").resolve(), target_is_directory=True)
    params_path = dest / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    for item in overrides:
        key, _, value = item.partition("=")
        set_param(params, key, value)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench copy"], cwd=dest, check=True)  # dvclive needs a HEAD
    return dest


def measured(cmd: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``cmd`` in a wrapper subprocess; wall seconds, peak RSS of its largest descendant, output."""
    wrapper = [sys.executable, __file__, "--measure", "--", *cmd]
    proc = subprocess.run(wrapper, cwd=cwd, env=pipeline_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(common.MARK)]
    if not lines:
        raise RuntimeError(f"{' '.join(cmd)}: wrapper failed:\n{proc.stdout[-3000:]}")
    result = json.loads(lines[-1][len(common.MARK):])
    if result["returncode"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {result['returncode']}):\n{proc.stdout[-3000:]}")
    result["output"] = proc.stdout
    return result


def pipeline_env() -> dict[str, str]:
    env = common.bench_env()
    env.pop("PYTHONPATH")  # the copy's own jsontune must win, as in a real run
    env["PYTHONPATH"] = "."
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def measure_main(cmd: list[str]) -> None:
    start = time.perf_counter()
    rc = subprocess.run(cmd).returncode
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(common.MARK + json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(rss, 1), "returncode": rc}),
          flush=True)


def run(copy: Path) -> dict[str, Any]:
    stages = {}
    for stage in stage_names(copy / "dvc.yaml"):
        print(f"stage {stage} ...", flush=True)
        r = measured(["dvc", "repro", "-s", stage], copy)
        stages[stage] = {"seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]}
        print(f"  {stages[stage]}", flush=True)
    noop = [measured(["dvc", "repro"], copy) for _ in range(3)]
    noop_ran = sorted({s for r in noop for s in ran_stages(r["output"])})
    params_path = copy / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    beta = params["dpo"]["beta"]
    set_param(params, DPO_BETA_KEY, str(round(beta * 1.2, 6)))
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    beta_run = measured(["dvc", "repro"], copy)
    return {"stages": stages, "total_seconds": round(sum(s["seconds"] for s in stages.values()), 1),
            "noop_seconds": [r["seconds"] for r in noop], "noop_ran": noop_ran,
            "beta_change": {"from": beta, "to": params["dpo"]["beta"], "seconds": beta_run["seconds"],
                            "ran": ran_stages(beta_run["output"]), "peak_rss_mb": beta_run["peak_rss_mb"]}}


def tiny_overrides(model_dir: Path) -> list[str]:
    return [f"model.name={model_dir}", "dataset.n_examples=60", "sft.max_length=128", "dpo.n_prompts=4",
            "dpo.max_length=128", "generation.max_new_tokens=8", "merge.min_agreement=0.0"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="params override in the copy")
    ap.add_argument("--tiny", action="store_true", help="smoke-test on a tiny random model; writes no results")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("cmd", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure_main(args.cmd)
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    overrides = list(args.set)
    try:
        if args.tiny:
            sys.path.insert(0, str(common.REPO / "tests"))
            from conftest import build_tiny_model

            overrides = tiny_overrides(build_tiny_model(scratch / "tiny")) + overrides
        copy = make_copy(scratch / "repo", overrides)
        result = run(copy)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.tiny:
        return
    noop = statistics.median(result["noop_seconds"])
    beta = result["beta_change"]
    rows = [{"label": f"pipeline stage `{name}` wall time / peak RSS", "ours": s["seconds"],
             "reference": None, "ratio": None, "unit": f"s / {s['peak_rss_mb']:.0f} MB RSS"}
            for name, s in result["stages"].items()]
    rows += [{"label": "whole `dvc repro` from scratch (sum of stages)", "ours": result["total_seconds"],
              "reference": None, "ratio": None, "unit": "s"},
             {"label": "no-op `dvc repro` (median of 3)", "ours": noop, "reference": None, "ratio": None, "unit": "s"},
             {"label": f"`dvc repro` after changing only dpo.beta (ran: {', '.join(beta['ran'])})",
              "ours": beta["seconds"], "reference": None, "ratio": None, "unit": "s"}]
    targets = [{"target": "no-op dvc repro ≤ 2 s", "measured": noop, "met": noop <= 2},
               {"target": "whole dvc repro ≤ 15 min", "measured": result["total_seconds"],
                "met": result["total_seconds"] <= 900}]
    notes = "scratch copy of the repo; params overrides: " + (", ".join(overrides) if overrides else "none")
    common.write_figure("pipeline", rows, raw=result, targets=targets, notes=notes)


if __name__ == "__main__":
    main()
