"""Multi-process training for real on CPU: the sft and dpo stage scripts with JSONTUNE_NPROC=2 relaunch
themselves under `accelerate launch` (2 ranks, gloo), keep the ranks' adapters in sync, and leave the same
artefacts as a single-process run, written once by rank 0."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from jsontune import launch
from jsontune.config import load_params
from jsontune.data import read_jsonl
from tests.test_pipeline_e2e import make_workspace

STAGES = ("sft", "dpo")


def artefacts(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for d in ("runs", "dvclive", "metrics") for p in (root / d).rglob("*")
            if p.is_file()}


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118


@pytest.fixture(scope="module")
def runs(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One workspace trained by 2 processes through the stage scripts, one trained in this process."""
    from jsontune import pipeline

    multi = tmp_path_factory.mktemp("nproc2")
    env = make_workspace(multi, tiny_model)
    data = yaml.safe_load((multi / "params.yaml").read_text())
    data["dataset"]["n_examples"] = 40
    # Activation checkpointing on, as in the GPU preset: checkpointed LoRA under DDP is the risky combination.
    data["sft"].update(max_length=128, activation_checkpointing=True)
    data["dpo"].update(n_prompts=2, hard_negatives_per_prompt=1, max_length=128, activation_checkpointing=True)
    (multi / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    params = load_params(multi / "params.yaml")
    pipeline.run_dataset(params, multi)
    single = tmp_path_factory.mktemp("nproc1")
    shutil.copytree(multi / "data", single / "data")

    shutil.copy(Path(__file__).with_name("two_stages.py"), multi / "two_stages.py")
    env = {**env, launch.NPROC_ENV: "2", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "two_stages.py"], cwd=multi, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert proc.stdout.count('"num_processes": 2') == 2  # sft and dpo summaries, printed by rank 0 only
    pipeline.run_sft(params, single)
    pipeline.run_dpo(params, single)
    return {"multi": multi, "single": single}


def test_two_processes_leave_the_same_artefacts_as_one(runs: dict[str, Path]) -> None:
    multi, single = runs["multi"], runs["single"]
    assert artefacts(multi) - {"metrics/data.json"} == artefacts(single)
    for stage in STAGES:
        adapter = f"runs/{stage}/adapter/adapter_model.safetensors"
        assert tensor_shapes(multi / adapter) == tensor_shapes(single / adapter)
        config = [json.loads((r / f"runs/{stage}/adapter/adapter_config.json").read_text()) for r in (multi, single)]
        for c in config:
            c["target_modules"] = sorted(c["target_modules"])
        assert config[0] == config[1]
        logs = [json.loads((r / f"metrics/{stage}_train.json").read_text()) for r in (multi, single)]
        assert set(logs[0]) == set(logs[1])
        assert logs[0]["num_processes"] == 2 and logs[1]["num_processes"] == 1
        assert math.isfinite(logs[0]["train_loss"])


def test_each_rank_trains_on_its_share_of_the_data(runs: dict[str, Path]) -> None:
    params = load_params(runs["multi"] / "params.yaml")
    n_train = len(read_jsonl(runs["multi"] / "data/train.jsonl"))
    steps = {name: json.loads((root / "metrics/sft_train.json").read_text())["steps"] for name, root in runs.items()}
    epochs = params.sft.epochs
    assert steps["single"] == math.ceil(epochs * math.ceil(n_train / params.sft.batch_size))
    assert steps["multi"] == math.ceil(epochs * math.ceil(n_train / (2 * params.sft.batch_size)))
    dpo = [json.loads((root / "metrics/dpo_train.json").read_text()) for root in runs.values()]
    assert dpo[0]["pairs"] == dpo[1]["pairs"] > 0  # rank 0's pairs, shared with rank 1
    curve = (runs["multi"] / "dvclive/sft/plots/metrics/loss.tsv").read_text().splitlines()
    assert len(curve) - 1 == steps["multi"]  # one writer: no duplicated rows


def test_diverged_ranks_are_an_error() -> None:
    import torch

    from jsontune.training import check_ranks_agree

    model = torch.nn.Linear(2, 1)

    def trainer(sums: list[float]) -> SimpleNamespace:
        acc = SimpleNamespace(num_processes=len(sums), device="cpu", unwrap_model=lambda m: m,
                              gather=lambda t: torch.tensor(sums, dtype=torch.float64))
        return SimpleNamespace(accelerator=acc, is_fsdp_enabled=False, model=model)

    check_ranks_agree(trainer([1.5, 1.5]))
    with pytest.raises(RuntimeError, match="differ between the 2 ranks"):
        check_ranks_agree(trainer([1.5, 1.25]))


def test_the_training_stage_scripts_are_the_distributed_ones() -> None:
    from tests.conftest import REPO

    for stage in STAGES:
        assert f"stage_main(run_{stage}, distributed=True)" in (REPO / f"stages/{stage}.py").read_text()
    for stage in ("dataset", "baseline", "eval", "merge"):
        assert "distributed" not in (REPO / f"stages/{stage}.py").read_text()


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_a_bad_process_count_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys, value: str) -> None:
    from jsontune.cli import stage_main

    monkeypatch.setenv(launch.NPROC_ENV, value)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(SystemExit) as info:
        stage_main(lambda p, r: pytest.fail("must not run"), [], distributed=True)
    assert info.value.code == 2
    assert f"{launch.NPROC_ENV}={value!r}: expected a whole number" in capsys.readouterr().err


def test_launch_command_is_ddp_or_the_given_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import REPO

    monkeypatch.chdir(REPO)
    ddp = launch.accelerate_command("stages/sft.py", ["--root", "."], 4, None)
    assert ddp[:5] == [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "4"]
    assert ddp[5:7] == ["--main_process_port", "0"]  # a free port: parallel runs do not collide
    assert "--multi_gpu" in ddp and ddp[-3:] == ["stages/sft.py", "--root", "."]
    fsdp = launch.accelerate_command("stages/sft.py", [], 4, "configs/accelerate/fsdp.yaml")
    assert fsdp[-3:] == ["--config_file", "configs/accelerate/fsdp.yaml", "stages/sft.py"] and "--multi_gpu" not in fsdp
    with pytest.raises(launch.LaunchError, match="not found"):
        launch.accelerate_command("stages/sft.py", [], 2, str(tmp_path / "missing.yaml"))


def test_the_fsdp_config_is_one_accelerate_reads() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    from tests.conftest import REPO

    config = load_config_from_file(str(REPO / "configs/accelerate/fsdp.yaml"))
    assert config.distributed_type == "FSDP" and config.mixed_precision == "no"
    assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
