"""Every stage through the real ``dvc repro`` on a tiny random model, in a temporary git+DVC repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from jsontune import plots
from jsontune.training import native_bf16
from tests.conftest import REPO

COPY = ["jsontune", "stages", "tasks", "dvc.yaml", ".dvc/config", ".dvcignore", "data/extra", "reports/templates"]


def tiny_params(model_dir: Path) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"]["name"] = str(model_dir)
    params["dataset"].update(n_examples=80, train_examples=0)
    # Room for a whole object: constrained decoding must finish it even on a random model.
    params["generation"].update(max_new_tokens=48, batch_size=8)
    params["sft"].update(batch_size=4, max_length=160)
    params["dpo"].update(n_prompts=6, batch_size=4, max_length=160)
    params["merge"]["min_agreement"] = 0.5
    return params


def make_workspace(root: Path, model_dir: Path) -> dict[str, str]:
    for name in COPY:
        src, dst = REPO / name, root / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(model_dir), sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=root, check=True, env=env)
    return env


def dvc(root: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(Path(sys.executable).parent / "dvc"), *args], cwd=root, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_dvc_repro_runs_every_stage_on_a_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    env = make_workspace(tmp_path, tiny_model)
    dvc(tmp_path, env, "repro")

    for split in ("train", "val", "test"):
        assert (tmp_path / f"data/{split}.jsonl").stat().st_size > 0
    for stage in ("baseline", "sft", "dpo"):
        m = json.loads((tmp_path / f"metrics/{stage}.json").read_text())
        assert {"json_validity", "schema_validity", "field_accuracy", "exact_match", "per_field", "failures"} <= set(m)
        assert m["n"] == len((tmp_path / "data/test.jsonl").read_text().splitlines())
    for stage in ("sft", "dpo"):
        assert (tmp_path / f"runs/{stage}/adapter/adapter_model.safetensors").is_file()
        log = json.loads((tmp_path / f"metrics/{stage}_train.json").read_text())
        assert log["steps"] > 0 and log["train_loss"] > 0
        # params.yaml says bf16: auto; the log records what this machine resolved it to.
        assert log["bf16"] is native_bf16()
    dpo_log = json.loads((tmp_path / "metrics/dpo_train.json").read_text())
    assert dpo_log["pairs"] > 0 and dpo_log["final_reward_accuracy"] is not None
    merged = json.loads((tmp_path / "metrics/merged.json").read_text())
    assert merged["adapter"] in ("sft", "dpo") and 0.5 <= merged["agreement"] <= 1.0
    assert (tmp_path / "runs/merged/model.safetensors").is_file()
    assert not list((tmp_path / "runs").rglob("*.bin")) and not list((tmp_path / "runs").rglob("*.pt"))
    extra_rows = (tmp_path / "jsontune/tasks/support_ticket/extra/handwritten.jsonl").read_text().splitlines()
    sources = {json.loads(line)["source"] for line in extra_rows}
    for stage in ("baseline", "sft", "dpo", "merged"):
        m = json.loads((tmp_path / f"metrics/{stage}.json").read_text())
        # A random model cannot write JSON freely; constrained decoding still must give only valid objects.
        assert m["constrained"]["json_validity"] == 1.0 and m["constrained"]["schema_validity"] == 1.0, stage
        assert m["speed"]["tokens_per_second"] > 0 and "rows_generated" in m["constrained"]["speed"]
        extra = m["extra_sets"]["handwritten"]
        assert extra["n"] == len(extra_rows) and set(extra["by_source"]) == sources
        assert extra["constrained"]["schema_validity"] == 1.0 and set(extra["constrained"]["by_source"]) == sources
        preds = [json.loads(line) for line in (tmp_path / f"predictions/{stage}.jsonl").read_text().splitlines()]
        assert len(preds) == m["n"] and all(p["constrained"]["schema_valid"] for p in preds)
    report = (tmp_path / "reports/eval.md").read_text()
    assert "| exact_match |" in report and "baseline" in report and "dpo" in report and "merged" in report
    assert "## Free vs constrained decoding" in report and "## `intent` confusion matrix" in report
    assert "## External set `handwritten`" in report and "## Worst examples" in report
    for name in ("stage_metrics", "per_field", "confusion", "loss_curves"):
        png = tmp_path / f"reports/figures/{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"figures/{name}.png" in report
    for stage in ("sft", "dpo"):
        curve = (tmp_path / f"dvclive/{stage}/plots/metrics/loss.tsv").read_text().splitlines()
        steps = json.loads((tmp_path / f"metrics/{stage}_train.json").read_text())["steps"]
        assert curve[0] == "step\tloss" and len(curve) - 1 == steps
    assert (tmp_path / "dvclive/dpo/plots/metrics/rewards_accuracies.tsv").is_file()

    dvc(tmp_path, env, "plots", "show", "--html-template", "reports/templates/dvc_plots_offline.html", "-o", "plots")
    page = (tmp_path / "plots/index.html").read_text()
    assert "vegaEmbed(" in page and "loss" in page and plots.external_references(page) == []

    assert "Data and pipelines are up to date" in dvc(tmp_path, env, "repro")
    # Python writes bytecode into the package folders that are stage deps (unless PYTHONDONTWRITEBYTECODE);
    # .dvcignore keeps that from rerunning every stage after any import.
    for folder in ("jsontune/tasks/__pycache__", "jsontune/tasks/user_profile/__pycache__"):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "generator.cpython-311.pyc").write_bytes(b"\x00bytecode")
    assert "Data and pipelines are up to date" in dvc(tmp_path, env, "status")
    diff = json.loads(dvc(tmp_path, env, "metrics", "diff", "--json"))
    assert "metrics/sft.json" in diff and "exact_match" in diff["metrics/sft.json"]

    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["dpo"]["beta"] = 0.2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = dvc(tmp_path, env, "status")
    assert "dpo" in status and "sft:" not in status and "dataset:" not in status and "baseline:" not in status

    messages = tmp_path / "messages.jsonl"
    messages.write_text('{"text": "where is order A12345?", "id": 7}\n\n{"text": "cancel it please"}\n')
    jsontune = str(Path(sys.executable).parent / "jsontune")
    done = subprocess.run([jsontune, "predict", "--model", "runs/merged", "--input", str(messages), "--output",
                           "out.jsonl"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    assert "wrote 2 predictions to out.jsonl" in done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == ["where is order A12345?", "cancel it please"] and rows[0]["id"] == 7
    piped = subprocess.run([jsontune, "predict", "--model", "runs/merged", "--input", "-", "--output", "-"],
                           cwd=tmp_path, env=env, check=True, capture_output=True, text=True,
                           input='{"text": "where is order A12345?", "id": 7}\n')
    # One row alone is decoded without the shared-prefix cache, so a random tiny model may answer it
    # differently from the two-row run: compare the row it echoes, not the answer.
    (alone,) = [json.loads(line) for line in piped.stdout.splitlines()]
    assert {k: alone[k] for k in ("text", "id")} == {k: rows[0][k] for k in ("text", "id")}
    assert alone.keys() == rows[0].keys()
    assert "wrote 1 prediction to stdout" in piped.stderr
    assert all({"output", "raw", "json_valid", "schema_valid"} <= set(r) for r in rows)
    subprocess.run([jsontune, "predict", "--model", "runs/merged", "--input", str(messages), "--output", "c.jsonl",
                    "--decoding", "constrained"], cwd=tmp_path, env=env, check=True, capture_output=True)
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["schema_valid"] for r in rows)
    bad = subprocess.run([jsontune, "predict", "--model", "runs/merged", "--input", "-"], cwd=tmp_path, env=env,
                         input='{"txt": "x"}\n', capture_output=True, text=True)
    assert bad.returncode == 2 and "<stdin>:1: text: missing" in bad.stderr

    # The merged checkpoint carries its task: a copy answers the same with no params.yaml around.
    saved = json.loads((tmp_path / "runs/merged/jsontune_task.json").read_text())
    first = json.loads((tmp_path / "data/test.jsonl").read_text().splitlines()[0])
    assert saved["system_prompt"] == first["prompt"][0]["content"] and saved["task"] == "support_ticket"
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "runs/merged", elsewhere / "model")
    subprocess.run([jsontune, "predict", "--model", "model", "--input", str(messages), "--output", "out.jsonl"],
                   cwd=elsewhere, env=env, check=True, capture_output=True)
    assert (elsewhere / "out.jsonl").read_text() == (tmp_path / "out.jsonl").read_text()
