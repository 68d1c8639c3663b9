"""A shared DVC remote, for real: the tiny pipeline's cached outputs (splits, adapter) are pushed to a
local-directory remote; a fresh git clone pulls them and `dvc repro` there has nothing to do."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import yaml

from tests.test_pipeline_e2e import dvc, make_workspace

TARGET = "sft"  # dataset -> sft: the splits and the adapter, the outputs that cost compute
CACHED = ["data/train.jsonl", "data/val.jsonl", "data/test.jsonl", "runs/sft/adapter/adapter_model.safetensors",
          "runs/sft/adapter/adapter_config.json"]


def git(root: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, env=env, check=True,
                   capture_output=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_push_clone_pull_and_repro_is_a_no_op(tmp_path: Path, tiny_model: Path) -> None:
    origin, clone, remote = tmp_path / "origin", tmp_path / "clone", tmp_path / "remote"
    origin.mkdir()
    env = make_workspace(origin, tiny_model)
    params = yaml.safe_load((origin / "params.yaml").read_text())
    params["dataset"]["n_examples"] = 40
    (origin / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    dvc(origin, env, "remote", "add", "-d", "shared", str(remote))  # the README's command, a local path for S3
    dvc(origin, env, "repro", TARGET)
    git(origin, env, "add", "-A")
    git(origin, env, "commit", "-qm", "run")
    assert "pushed" in dvc(origin, env, "push")
    assert any(p.is_file() for p in (remote / "files").rglob("*"))

    git(tmp_path, env, "clone", "-q", str(origin), str(clone))
    assert not (clone / "data/train.jsonl").exists()  # git holds only the pointers (dvc.lock)
    assert "Data and pipelines are up to date" not in dvc(clone, env, "status", TARGET, "--with-deps")
    dvc(clone, env, "pull", TARGET, "--with-deps")
    for path in CACHED:
        assert digest(clone / path) == digest(origin / path), path
    assert "Data and pipelines are up to date" in dvc(clone, env, "status", TARGET, "--with-deps")
    assert "Data and pipelines are up to date" in dvc(clone, env, "repro", TARGET)
    for path in CACHED:
        assert digest(clone / path) == digest(origin / path), path
