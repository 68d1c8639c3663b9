"""Smoke test on the real embedded model (SmolLM2-135M-Instruct): it is materialised with pinned
hashes, loads offline, and the batched generator produces text that the metrics can score."""

from __future__ import annotations

import json

import pytest

from jsontune.config import ModelParams
from jsontune.data import prompt_messages
from tests.conftest import EMBEDDED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded() -> ModelParams:
    if not (EMBEDDED / "model.safetensors").is_file():
        pytest.skip("the embedded model is not built: run `make model`")
    return ModelParams(name=str(EMBEDDED))


def test_checkpoint_is_safetensors_with_chatml_template(embedded: ModelParams) -> None:
    from jsontune.models import load_tokenizer

    assert not list(EMBEDDED.glob("*.bin")) and not list(EMBEDDED.glob("*.pt"))
    config = json.loads((EMBEDDED / "config.json").read_text())
    assert config["model_type"] == "llama" and config["vocab_size"] == 49152
    tok = load_tokenizer(embedded)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token_id == tok.eos_token_id
    text = tok.apply_chat_template(prompt_messages("hi", "Return JSON."), tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nReturn JSON.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_batched_greedy_generation_matches_one_at_a_time(embedded: ModelParams, schema: dict) -> None:
    """Left padding must not change greedy answers: the batch and single-row answers agree."""
    from jsontune.generation import generate
    from jsontune.metrics import score_output
    from jsontune.models import load_for_inference, load_tokenizer

    tok = load_tokenizer(embedded)
    model = load_for_inference(embedded)
    prompts = [prompt_messages(t, "Reply with JSON: intent, urgency, order_id.") for t in
               ("Where is order A12345?", "I was charged twice for my order ORD-2024-000981, fix it today!!")]
    batched = generate(model, tok, prompts, batch_size=2, max_new_tokens=24)
    single = [generate(model, tok, [p], batch_size=1, max_new_tokens=24)[0] for p in prompts]
    assert all(isinstance(r, str) and r.strip() for r in batched)
    assert batched == single
    gold = {"intent": "ORDER_STATUS", "urgency": "MEDIUM", "order_id": "A12345"}
    assert 0.0 <= score_output(batched[0], gold, schema).field_accuracy <= 1.0
