"""The published GPU preset: a complete params file whose values reach the exact BitsAndBytesConfig,
LoraConfig, SFTConfig, DPOConfig and from_pretrained call the pipeline builds (nothing is downloaded),
and switching to it is the one command its header documents, visible in `dvc params diff`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from jsontune.config import Params, load_params
from tests.conftest import REPO
from tests.test_config import field_paths, yaml_key_paths

PRESET = REPO / "presets" / "qwen2.5-1.5b-qlora.yaml"


@pytest.fixture
def gpu_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer transformers' hardware query as a bf16-capable GPU would, so the configs build as there."""
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)


def test_preset_is_a_complete_params_file() -> None:
    data = yaml.safe_load(PRESET.read_text(encoding="utf-8"))
    assert yaml_key_paths(data) == field_paths(Params)
    assert isinstance(load_params(PRESET), Params)


def test_preset_sizes_fit_a_gpu_run() -> None:
    p = load_params(PRESET)
    test_rows = round(p.dataset.n_examples * p.dataset.test_fraction)
    val_rows = round(p.dataset.n_examples * p.dataset.val_fraction)
    assert test_rows >= 1000 and val_rows >= 500  # one exact-match point = 10+ test messages
    assert p.dataset.n_examples > load_params(REPO / "params.yaml").dataset.n_examples
    assert p.sft.max_length >= 512 and p.dpo.n_prompts >= 1000


def test_preset_builds_the_published_qlora_objects(gpu_bf16: None) -> None:
    from jsontune.models import quantization_config
    from jsontune.training import dpo_config, lora_config, sft_config

    p = load_params(PRESET)
    assert p.model.name == "Qwen/Qwen2.5-1.5B-Instruct"

    bnb = quantization_config(p.model)
    assert bnb.load_in_4bit and not bnb.load_in_8bit
    assert bnb.bnb_4bit_quant_type == "nf4" and bnb.bnb_4bit_use_double_quant is True
    assert bnb.bnb_4bit_compute_dtype == torch.bfloat16

    lora = lora_config(p.sft.lora)
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (16, 32, 0.05)
    assert set(lora.target_modules) == {"q_proj", "v_proj"} and lora.task_type == "CAUSAL_LM"

    for cfg, section in ((sft_config(p.sft, "out", p.model), p.sft), (dpo_config(p.dpo, "out", p.model), p.dpo)):
        assert cfg.bf16 is True and cfg.fp16 is False
        assert cfg.gradient_checkpointing is True
        assert cfg.optim == "paged_adamw_8bit"
        assert cfg.num_train_epochs == 3
        assert 16 <= cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps <= 32
        assert cfg.learning_rate == section.learning_rate
    dpo = dpo_config(p.dpo, "out", p.model)
    assert dpo.beta == 0.1
    assert sft_config(p.sft, "out", p.model).completion_only_loss is True


def test_all_linear_is_the_documented_option() -> None:
    from jsontune.training import lora_config

    text = PRESET.read_text(encoding="utf-8")
    assert "all-linear" in text
    p = load_params(PRESET)
    p.sft.lora.target_modules = "all-linear"
    assert lora_config(p.sft.lora).target_modules == "all-linear"


def test_preset_loads_the_base_model_4bit_in_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The from_pretrained call the preset implies, caught at the boundary (no download)."""
    import transformers

    from jsontune.models import load_base_model

    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_from_pretrained(name: str, **kw: Any) -> object:
        calls.append((name, kw))
        return object()

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_from_pretrained)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "1")
    load_base_model(load_params(PRESET).model)
    ((name, kw),) = calls
    assert name == "Qwen/Qwen2.5-1.5B-Instruct"
    assert kw["dtype"] == torch.bfloat16 and kw["use_safetensors"] is True and kw["trust_remote_code"] is False
    assert kw["quantization_config"].bnb_4bit_quant_type == "nf4"
    assert kw["device_map"] == {"": 1}  # each DDP rank loads onto its own GPU
    assert "local_files_only" not in kw


def test_fsdp_stores_4bit_weights_in_the_compute_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    from jsontune.models import quantization_config

    model = load_params(PRESET).model
    assert quantization_config(model).bnb_4bit_quant_storage == torch.uint8
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert quantization_config(model).bnb_4bit_quant_storage == torch.bfloat16


def test_switching_is_one_command_visible_in_dvc_params_diff(tmp_path: Path) -> None:
    from tests.test_pipeline_e2e import dvc, make_workspace

    env = make_workspace(tmp_path, Path("models/SmolLM2-135M-Instruct"))
    shutil.copytree(REPO / "presets", tmp_path / "presets")
    (command,) = re.findall(r"^#   (cp presets/\S+ params\.yaml)", PRESET.read_text(encoding="utf-8"), flags=re.M)
    subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, check=True)
    diff = json.loads(dvc(tmp_path, env, "params", "diff", "--json"))["params.yaml"]
    assert diff["model.name"]["new"] == "Qwen/Qwen2.5-1.5B-Instruct"
    assert diff["model.quantization"] == {"old": "none", "new": "nf4"}
    assert diff["sft.optimizer"]["new"] == "paged_adamw_8bit" and diff["dpo.beta"]["new"] == 0.1
