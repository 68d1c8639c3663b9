"""Shared fixtures: the support-ticket schema, and a tiny randomly initialised Llama that uses the
real SmolLM2 tokenizer, so every stage can run end to end in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jsontune.schema import TASKS_DIR, load_schema

REPO = Path(__file__).resolve().parent.parent
EMBEDDED = REPO / "models" / "SmolLM2-135M-Instruct"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def schema() -> dict:
    return load_schema(TASKS_DIR / "support_ticket" / "schema.json")


def build_tiny_model(out_dir: Path, seed: int = 0) -> Path:
    """A 2-layer Llama with SmolLM2's vocabulary and chat template, randomly initialised from a seed."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if not (EMBEDDED / "tokenizer.json").is_file():
        pytest.skip("the embedded model is not built: run `make model`")
    tok = AutoTokenizer.from_pretrained(EMBEDDED)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
