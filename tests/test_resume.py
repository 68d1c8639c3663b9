"""Interruption and resume: checkpoints outside DVC's outputs, keyed so a changed param or input never
resumes a stale run; a tiny-model SFT killed with SIGKILL and rerun by ``dvc repro`` resumes from its last
checkpoint and ends with the same adapter as an uninterrupted run; DPO does the same after a crash."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from jsontune import checkpoints
from jsontune.config import DpoParams, ModelParams, Params, SftParams, params_from_dict
from jsontune.training import dpo_config, sft_config
from tests.conftest import REPO
from tests.test_pipeline_e2e import make_workspace

SECRET = "hf_secret-sentinel-6f1c"

# Runs the real sft stage and SIGKILLs the process right after optimizer step KILL_AT (no cleanup runs).
KILL_DRIVER = """
import os, signal, sys
from transformers import TrainerCallback
import jsontune.training as training
from jsontune.cli import stage_main
from jsontune.pipeline import run_sft

KILL_AT = int(sys.argv.pop(1))


class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)


original = training.sft_trainer


def with_kill(*args, **kwargs):
    trainer = original(*args, **kwargs)
    trainer.add_callback(Kill())
    return trainer


training.sft_trainer = with_kill
stage_main(run_sft)
"""


def adapter_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def assert_same_adapter(a: Path, b: Path) -> None:
    import torch

    ta, tb = adapter_tensors(a), adapter_tensors(b)
    assert ta.keys() == tb.keys() and ta
    for key in ta:
        assert torch.allclose(ta[key], tb[key], rtol=0, atol=1e-6), key


# ---------------------------------------------------------------- checkpoint keys and directories


def test_key_follows_params_data_and_files_but_not_the_workspace(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "train.jsonl", tmp_path / "b" / "train.jsonl"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text('{"text": "x"}\n')
    key = checkpoints.run_key(SftParams(), ModelParams(), a)
    assert checkpoints.run_key(SftParams(), ModelParams(), b) == key  # same content elsewhere: same run
    assert checkpoints.run_key(SftParams(learning_rate=2e-3), ModelParams(), a) != key
    assert checkpoints.run_key(SftParams(), ModelParams(dtype="bfloat16"), a) != key
    assert checkpoints.run_key(SftParams(), ModelParams(), a, [{"prompt": 1}]) != key
    b.write_text('{"text": "y"}\n')
    assert checkpoints.run_key(SftParams(), ModelParams(), b) != key
    assert checkpoints.run_dir(tmp_path, "sft", SftParams(), ModelParams(), a) == tmp_path / f"sft-{key}"


def test_key_of_a_directory_covers_every_file(tmp_path: Path) -> None:
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_model.safetensors").write_bytes(b"1")
    key = checkpoints.run_key(tmp_path / "adapter")
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    assert checkpoints.run_key(tmp_path / "adapter") != key


def test_last_checkpoint_skips_one_cut_off_while_saving(tmp_path: Path) -> None:
    assert checkpoints.last_checkpoint(tmp_path / "absent") is None
    for step, complete in ((3, True), (12, True), (15, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert checkpoints.last_checkpoint(tmp_path) == tmp_path / "checkpoint-12"
    assert checkpoints.checkpoint_step(tmp_path / "checkpoint-12") == 12


def test_clear_removes_only_that_stage(tmp_path: Path) -> None:
    for name in ("sft-aaa", "sft-bbb", "dpo-aaa"):
        (tmp_path / name / "checkpoint-1").mkdir(parents=True)
    checkpoints.clear(tmp_path, "sft")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dpo-aaa"]
    checkpoints.clear(tmp_path / "absent", "sft")


def test_checkpoints_live_outside_every_dvc_output_and_are_ignored() -> None:
    from jsontune import pipeline

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outs = [next(iter(o)) if isinstance(o, dict) else o for s in stages.values() for o in s.get("outs", [])]
    assert pipeline.CHECKPOINTS == checkpoints.CHECKPOINTS
    assert not any(pipeline.CHECKPOINTS.startswith(o.rstrip("/") + "/") or o.startswith(pipeline.CHECKPOINTS)
                   for o in outs)
    for stage in ("sft", "dpo"):
        assert "jsontune/checkpoints.py" in stages[stage]["deps"]
    assert "/runs/" in (REPO / ".gitignore").read_text().split()
    assert f"/{pipeline.CHECKPOINTS}/" in (REPO / ".dvcignore").read_text().split()


def test_trainer_saves_on_schedule_only_into_a_checkpoint_dir(tmp_path: Path) -> None:
    p = Params()
    plain = sft_config(p.sft, tmp_path / "adapter", p.model)
    assert plain.save_strategy == "no" and plain.output_dir == str(tmp_path / "adapter")
    saving = sft_config(replace(p.sft, save_steps=7), tmp_path / "adapter", p.model, tmp_path / "ckpt")
    assert saving.save_strategy == "steps" and saving.save_steps == 7 and saving.save_total_limit == 1
    assert saving.output_dir == str(tmp_path / "ckpt") and not saving.save_only_model  # optimizer + RNG too
    assert dpo_config(replace(p.dpo, save_steps=0), "a", p.model, tmp_path).save_strategy == "no"
    assert dpo_config(p.dpo, "a", p.model, tmp_path).save_steps == p.dpo.save_steps


# ---------------------------------------------------------------- SFT: SIGKILL, then dvc repro resumes


def test_sft_killed_mid_run_resumes_under_dvc_repro(tmp_path: Path, tiny_model: Path) -> None:
    from jsontune.pipeline import run_dataset, run_sft

    ws = tmp_path / "ws"
    ws.mkdir()
    env = make_workspace(ws, tiny_model)
    data = yaml.safe_load((ws / "params.yaml").read_text())
    data["sft"]["save_steps"] = 3
    (ws / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    env["HF_TOKEN"] = SECRET
    run_dataset(params_from_dict(data), ws)

    (tmp_path / "kill.py").write_text(KILL_DRIVER)
    killed = subprocess.run([sys.executable, str(tmp_path / "kill.py"), "5"], cwd=ws, env=env,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (ws / "runs/sft/adapter").exists()
    (run,) = (ws / checkpoints.CHECKPOINTS).iterdir()
    assert checkpoints.last_checkpoint(run) == run / "checkpoint-3"  # step 4-5 progress is lost, 1-3 kept
    leaked = [p for p in run.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaked, "the HF token was written into a checkpoint"

    # A run of other params (another lr) left a later checkpoint behind: it must be neither used nor kept.
    params = params_from_dict(data)
    stale = checkpoints.run_dir(ws / checkpoints.CHECKPOINTS, "sft", replace(params.sft, learning_rate=0.5),
                                params.model, Path(params.model.name), ws / "data/train.jsonl")
    (stale / "checkpoint-9").mkdir(parents=True)
    (stale / "checkpoint-9" / "trainer_state.json").write_text("{}")

    # DVC deletes runs/sft/adapter before running the stage, not the checkpoints.
    resumed = subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", "--single-item", "sft"], cwd=ws,
                             env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    resume_line = f"sft: resuming from {(run / 'checkpoint-3').relative_to(ws)} (step 3)"
    assert resume_line in resumed.stdout + resumed.stderr
    assert SECRET not in killed.stdout + killed.stderr + resumed.stdout + resumed.stderr
    summary = json.loads((ws / "metrics/sft_train.json").read_text())
    assert summary["resumed_from_step"] == 3 and summary["steps"] > 5
    assert not any((ws / checkpoints.CHECKPOINTS).iterdir()), "checkpoints are removed once the stage succeeds"
    assert not stale.exists()
    curve = (ws / "dvclive/sft/plots/metrics/loss.tsv").read_text().splitlines()
    assert len(curve) - 1 == summary["steps"]  # the curve has the steps before the kill too

    reference = tmp_path / "reference"
    (reference / "data").mkdir(parents=True)
    (reference / "data/train.jsonl").write_bytes((ws / "data/train.jsonl").read_bytes())
    fresh = run_sft(params, reference)
    assert fresh["resumed_from_step"] is None and fresh["steps"] == summary["steps"]
    assert_same_adapter(ws / "runs/sft/adapter", reference / "runs/sft/adapter")
    assert curve == (reference / "dvclive/sft/plots/metrics/loss.tsv").read_text().splitlines()


# ---------------------------------------------------------------- DPO: crash, rerun resumes


class Crash(RuntimeError):
    pass


def _dpo_run(tiny_model: Path, sft_adapter: Path, pairs: list, out: Path, ckpt: Path | None,
             crash_at: int | None = None) -> dict:
    import trl
    from transformers import TrainerCallback, set_seed

    from jsontune.models import load_base_model, load_tokenizer
    from jsontune.training import train_dpo

    class CrashAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == crash_at:
                raise Crash(f"crashed after step {crash_at}")

    model_params = ModelParams(name=str(tiny_model))
    p = DpoParams(batch_size=2, max_length=128, save_steps=2, learning_rate=1e-3, seed=13)
    original = trl.DPOTrainer

    class Trainer(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if crash_at is not None:
                self.add_callback(CrashAt())

    set_seed(p.seed)
    trl.DPOTrainer = Trainer
    try:
        return train_dpo(load_base_model(model_params), load_tokenizer(model_params), pairs, p, model_params,
                         sft_adapter, out, checkpoint_dir=ckpt)
    finally:
        trl.DPOTrainer = original


def test_dpo_resumes_after_a_crash_and_matches_an_uninterrupted_run(tmp_path: Path, tiny_model: Path,
                                                                     schema: dict) -> None:
    import torch
    from peft import get_peft_model

    from jsontune.config import LoraParams
    from jsontune.models import load_base_model
    from jsontune.preferences import build_pairs
    from jsontune.training import lora_config
    from tests.test_training import chat_rows

    torch.manual_seed(0)
    sft = get_peft_model(load_base_model(ModelParams(name=str(tiny_model))), lora_config(LoraParams()))
    for name, weight in sft.named_parameters():  # a non-trivial SFT adapter (LoRA B starts at zero)
        if "lora_B" in name:
            torch.nn.init.normal_(weight, std=0.02)
    sft.save_pretrained(tmp_path / "sft", safe_serialization=True)
    pairs, _ = build_pairs(chat_rows(schema) * 2, schema, 1, 0)
    assert len(pairs) == 8  # 4 steps of 2 pairs

    ckpt = tmp_path / "ckpt"
    with pytest.raises(Crash):
        _dpo_run(tiny_model, tmp_path / "sft", pairs, tmp_path / "dpo", ckpt, crash_at=3)
    assert checkpoints.last_checkpoint(ckpt) == ckpt / "checkpoint-2"
    resumed = _dpo_run(tiny_model, tmp_path / "sft", pairs, tmp_path / "dpo", ckpt)
    assert resumed["resumed_from_step"] == 2
    fresh = _dpo_run(tiny_model, tmp_path / "sft", pairs, tmp_path / "dpo-fresh", None)
    assert fresh["resumed_from_step"] is None
    assert_same_adapter(tmp_path / "dpo", tmp_path / "dpo-fresh")
    assert not (tmp_path / "dpo" / "ref").exists()  # the frozen reference copy is not part of the output
    losses = [[e["loss"] for e in r["log"] if "loss" in e] for r in (resumed, fresh)]
    assert losses[0] == pytest.approx(losses[1], abs=1e-6) and len(losses[0]) == 4

