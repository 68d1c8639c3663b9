"""Training on the tiny model: answer-only loss on the real tokenizer, a loss-regression check in the
torchtune style, the NF4 (QLoRA) code path on CPU, and the exact TRL/PEFT objects params imply."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from jsontune.config import DpoParams, ModelParams, Params, SftParams
from jsontune.data import Example, to_chat_row
from jsontune.schema import canonical_json
from jsontune.training import dpo_config, lora_config, native_bf16, sft_config, sft_trainer, train_sft

ROWS = [
    ("Where is my order A12345? It was due on 12/03.", {"intent": "ORDER_STATUS", "urgency": "MEDIUM",
                                                          "order_id": "A12345"}),
    ("URGENT: I was charged twice for ORD-2024-000981!!", {"intent": "PAYMENT_ISSUE", "urgency": "HIGH",
                                                           "order_id": "ORD-2024-000981"}),
    ("no rush, do you sell gift cards?", {"intent": "PRODUCT_INFO", "urgency": "LOW", "order_id": None}),
    ("please cancel #55123, ordered the wrong size", {"intent": "CANCEL_ORDER", "urgency": "MEDIUM",
                                                      "order_id": "55123"}),
]


def chat_rows(schema: dict, system_prompt: str = "Return JSON.") -> list[dict]:
    return [to_chat_row(Example(t, o, "g", "test"), schema, system_prompt) for t, o in ROWS]


def tiny_params(model_dir: Path, **sft: object) -> Params:
    params = Params(model=ModelParams(name=str(model_dir)))
    params.sft.batch_size = 2
    params.sft.max_length = 128
    params.sft.bf16 = False  # the same losses on every CPU; bf16 has tests of its own
    for key, value in sft.items():
        setattr(params.sft, key, value)
    return params


def test_only_the_json_answer_and_end_of_turn_are_trained(tiny_model: Path, schema: dict, tmp_path: Path) -> None:
    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model)
    tok = load_tokenizer(params.model)
    rows = chat_rows(schema)
    trainer = sft_trainer(load_base_model(params.model), tok, rows, params.sft, params.model, tmp_path)
    for example, row in zip(trainer.train_dataset, rows, strict=True):
        trained = [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label != -100]
        assert tok.decode(trained) == canonical_json(row["output"], schema) + "<|im_end|>\n"
        prompt_ids = [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label == -100]
        assert "Return JSON." in tok.decode(prompt_ids)


# Losses of the first steps on the tiny model (seed 0 init, sft.seed 13). Regenerate deliberately if a
# change to masking, data formatting or the optimiser is intended: pytest -k loss_regression -s
# (regenerated when the dataclass defaults became params.yaml's: all-linear LoRA, no dropout, eager).
EXPECTED_LOSSES = [10.791, 10.735, 10.674, 10.664]


def test_loss_regression(tiny_model: Path, schema: dict, tmp_path: Path) -> None:
    from transformers import set_seed

    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model, learning_rate=1e-2, epochs=2.0, warmup_ratio=0.0)
    set_seed(params.sft.seed)
    tok = load_tokenizer(params.model)
    result = train_sft(load_base_model(params.model), tok, chat_rows(schema), params.sft, params.model, tmp_path)
    losses = [round(e["loss"], 3) for e in result["log"] if "loss" in e]
    print("losses:", json.dumps(losses))
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]
    assert losses == pytest.approx(EXPECTED_LOSSES, abs=0.02)
    # all-linear is a set inside PEFT; the saved config must not depend on the interpreter's hash seed.
    modules = json.loads((tmp_path / "adapter_config.json").read_text())["target_modules"]
    assert modules == sorted(modules)
    assert {m.rsplit(".", 1)[-1] for m in modules} == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                       "up_proj", "down_proj"}


def test_nf4_qlora_steps_run_on_cpu(tiny_model: Path, schema: dict, tmp_path: Path) -> None:
    from transformers import set_seed

    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model, epochs=1.0)
    params.model.quantization = "nf4"
    set_seed(0)
    model = load_base_model(params.model)
    assert any("4bit" in type(m).__name__ for m in model.modules())
    result = train_sft(model, load_tokenizer(params.model), chat_rows(schema), params.sft, params.model, tmp_path)
    assert all(math.isfinite(e["loss"]) for e in result["log"] if "loss" in e)
    assert (tmp_path / "adapter_model.safetensors").is_file()


def test_config_objects_follow_params() -> None:
    params = Params()
    lora = lora_config(params.sft.lora)
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (16, 32, 0.0)
    assert lora.target_modules == "all-linear"
    sft = sft_config(params.sft, "out", params.model)
    assert sft.completion_only_loss is True
    assert sft.bf16 is native_bf16() and sft.activation_checkpointing is False  # bf16: auto
    assert sft.learning_rate == params.sft.learning_rate and sft.per_device_train_batch_size == 4
    params.dpo.sft_weight = 0.5
    dpo = dpo_config(params.dpo, "out", params.model)
    assert dpo.beta == params.dpo.beta
    assert list(dpo.loss_type) == ["sigmoid", "sft"] and list(dpo.loss_weights) == [1.0, 0.5]
    assert torch.get_default_dtype() == torch.float32


def test_answer_only_loss_equals_trl_default_loss(tiny_model: Path, schema: dict, tmp_path: Path) -> None:
    """The fast loss must be the same number TRL computes over the full sequence with the prompt masked."""
    from trl import SFTTrainer

    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model)
    params.sft.batch_size = 4
    trainer = sft_trainer(load_base_model(params.model), load_tokenizer(params.model), chat_rows(schema),
                          params.sft, params.model, tmp_path)
    batch = next(iter(trainer.get_train_dataloader()))
    ours = trainer.compute_loss(trainer.model, dict(batch))
    reference = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
    assert float(ours) == pytest.approx(float(reference), rel=1e-5)


def test_eager_attention_gives_the_sdpa_loss_on_a_padded_batch(tiny_model: Path, schema: dict,
                                                               tmp_path: Path) -> None:
    """``attn_implementation: eager`` (what makes bf16 pay off on CPU) must change the kernel only, padding
    masks included."""
    from jsontune.models import load_base_model, load_tokenizer

    losses = {}
    for attn in ("sdpa", "eager"):
        params = tiny_params(tiny_model, attn_implementation=attn, batch_size=4)
        trainer = sft_trainer(load_base_model(params.model), load_tokenizer(params.model), chat_rows(schema),
                              params.sft, params.model, tmp_path / attn)
        assert trainer.accelerator.unwrap_model(trainer.model).config._attn_implementation == attn
        batch = next(iter(trainer.get_train_dataloader()))
        assert (batch["attention_mask"] == 0).any()
        losses[attn] = float(trainer.compute_loss(trainer.model, dict(batch)))
    assert losses["eager"] == pytest.approx(losses["sdpa"], rel=1e-5)


def test_bf16_uses_the_cpu_only_without_a_bf16_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.utils

    from jsontune.training import bf16_on_cpu

    assert bf16_on_cpu(False) is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(transformers.utils, "is_torch_bf16_gpu_available", lambda: False)
    assert bf16_on_cpu(True) is True
    monkeypatch.setattr(transformers.utils, "is_torch_bf16_gpu_available", lambda: True)
    assert bf16_on_cpu(True) is False


def _hardware(monkeypatch: pytest.MonkeyPatch, *, cuda: bool = False, cuda_bf16: bool = False,
              avx512_bf16: bool = False, amx: bool = False) -> None:
    import transformers.utils

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(transformers.utils, "is_torch_bf16_gpu_available", lambda: cuda_bf16)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


@pytest.mark.parametrize(("hardware", "native"), [
    ({}, False),                                  # AVX2-only CPU: bf16 would be emulated
    ({"avx512_bf16": True}, True),
    ({"amx": True}, True),
    ({"cuda": True, "cuda_bf16": True}, True),
    ({"cuda": True, "avx512_bf16": True}, False),  # a GPU without bf16 (T4) decides, not the host CPU
])
def test_bf16_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch, hardware: dict, native: bool) -> None:
    from jsontune.training import use_bf16

    _hardware(monkeypatch, **hardware)
    assert use_bf16("auto") is native
    assert use_bf16(True) is True and use_bf16(False) is False
    if not hardware.get("cuda"):
        assert sft_config(SftParams(bf16="auto"), "out", ModelParams()).bf16 is native


def test_training_base_holds_an_fp32_cpu_base_in_bf16_only_under_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluation and merging keep the params dtype; only the frozen weights being trained change."""
    from jsontune.training import training_base

    _hardware(monkeypatch, avx512_bf16=True)
    fp32, nf4 = ModelParams(), ModelParams(quantization="nf4")
    assert training_base(fp32, SftParams(bf16="auto")).dtype == "bfloat16"
    assert training_base(fp32, DpoParams(bf16=True)).dtype == "bfloat16"
    assert training_base(fp32, SftParams(bf16=False)) is fp32
    assert training_base(nf4, SftParams(bf16=True)) is nf4  # 4-bit weights compute in model.dtype already
    assert fp32.dtype == "float32"
    _hardware(monkeypatch)
    assert training_base(fp32, SftParams(bf16="auto")) is fp32
    _hardware(monkeypatch, cuda=True, cuda_bf16=True)
    assert training_base(fp32, SftParams(bf16=True)) is fp32  # GPUs: model.dtype says what to load


def test_bf16_on_a_gpu_without_bf16_is_an_error_not_a_silent_cpu_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.utils

    from jsontune.training import bf16_on_cpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    monkeypatch.setattr(transformers.utils, "is_torch_bf16_gpu_available", lambda: False)
    with pytest.raises(ValueError, match="Tesla T4.*no bf16 support"):
        bf16_on_cpu(True)


@pytest.mark.parametrize("bf16", [False, True])
def test_answer_only_loss_runs_under_the_trainers_autocast(tiny_model: Path, schema: dict, tmp_path: Path,
                                                          bf16: bool) -> None:
    """With ``bf16: true`` the fast loss must run in bf16 autocast like TRL's own path (it calls the
    unwrapped model, which has lost accelerate's autocast wrapper); fp32 stays fp32. On this CPU-only
    machine it also checks that a bf16 run is accepted (transformers needs ``use_cpu`` for that)."""
    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model, bf16=bf16)
    trainer = sft_trainer(load_base_model(params.model), load_tokenizer(params.model), chat_rows(schema),
                          params.sft, params.model, tmp_path)
    seen: list[torch.dtype] = []
    layer = next(m for n, m in trainer.model.named_modules() if n.endswith("mlp.down_proj"))
    layer.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    batch = next(iter(trainer.get_train_dataloader()))
    with trainer.compute_loss_context_manager():
        trainer.compute_loss(trainer.model, dict(batch))
    assert seen and set(seen) == {torch.bfloat16 if bf16 else torch.float32}


def test_shared_prompt_prefix_stops_at_the_first_difference_padding_or_label() -> None:
    from jsontune.training import SHARED_PREFIX_MIN, shared_prompt_prefix

    n = SHARED_PREFIX_MIN + 4
    ids = torch.cat([torch.arange(n).expand(3, -1), torch.tensor([[50, 51, 52], [60, 61, 62], [70, 71, 72]])], 1)
    labels = torch.full_like(ids, -100)
    mask = torch.ones_like(ids)
    # One column short of the common run: the first row-specific token is predicted from the per-row part.
    assert shared_prompt_prefix(ids, mask, labels) == n - 1
    assert shared_prompt_prefix(ids[:1], mask[:1], labels[:1]) == 0
    labelled = labels.clone()
    labelled[:, SHARED_PREFIX_MIN + 2] = 7
    assert shared_prompt_prefix(ids, mask, labelled) == SHARED_PREFIX_MIN + 1
    left_padded = mask.clone()
    left_padded[1, 0] = 0
    assert shared_prompt_prefix(ids, left_padded, labels) == 0
    assert shared_prompt_prefix(ids[:, :SHARED_PREFIX_MIN], mask[:, :SHARED_PREFIX_MIN],
                                labels[:, :SHARED_PREFIX_MIN]) == 0


def test_sharing_the_prompt_prefix_gives_the_same_loss_and_gradients(tiny_model: Path, schema: dict,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefix computed once and repeated must train exactly like every row computed in full."""
    from jsontune import training
    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model)
    params.sft.batch_size = 4
    params.sft.lora.dropout = 0.0
    trainer = sft_trainer(load_base_model(params.model), load_tokenizer(params.model),
                          chat_rows(schema, system_prompt="Return one JSON object for the ticket below."),
                          params.sft, params.model, tmp_path)
    batch = dict(next(iter(trainer.get_train_dataloader())))
    assert training.shared_prompt_prefix(batch["input_ids"], batch["attention_mask"], batch["labels"]) > 0
    causal = trainer.model.get_base_model()
    trainer.model.train()
    assert not training._dropout_active(causal)
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    # Non-zero LoRA B weights, so gradients reach the A matrices and the shared prefix's own adapters;
    # sharper attention than the random init's near-uniform one, so wrong positions would show.
    with torch.no_grad():
        for name, p in trainer.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
            elif name.endswith(("q_proj.base_layer.weight", "k_proj.base_layer.weight")):
                p.mul_(30)

    def loss_and_grads() -> tuple[float, torch.Tensor]:
        trainer.model.zero_grad()
        loss, _ = training.answer_only_loss(causal, batch)
        loss.backward()
        return float(loss), torch.cat([p.grad.flatten() for p in trainable])

    shared_loss, shared_grads = loss_and_grads()
    monkeypatch.setattr(training, "SHARED_PREFIX_MIN", 10**6)
    assert training.shared_prompt_prefix(batch["input_ids"], batch["attention_mask"], batch["labels"]) == 0
    full_loss, full_grads = loss_and_grads()
    assert shared_loss == pytest.approx(full_loss, rel=1e-5)
    assert float((shared_grads - full_grads).norm() / full_grads.norm()) < 1e-4


def test_the_prompt_prefix_is_not_shared_under_dropout(tiny_model: Path, schema: dict, tmp_path: Path) -> None:
    """With LoRA dropout every row must draw its own mask, so the prefix is computed per row."""
    from jsontune import training
    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model)
    params.sft.lora.dropout = 0.1
    trainer = sft_trainer(load_base_model(params.model), load_tokenizer(params.model), chat_rows(schema),
                          params.sft, params.model, tmp_path)
    causal = trainer.model.get_base_model()
    batch = dict(next(iter(trainer.get_train_dataloader())))
    trainer.model.eval()
    assert training.prefix_to_share(causal, batch) > 0
    trainer.model.train()
    assert training._dropout_active(causal)
    assert training.prefix_to_share(causal, batch) == 0


def test_activation_checkpointing_trains_without_prefix_sharing(tiny_model: Path, schema: dict, tmp_path: Path) -> None:
    """Checkpointed layers return no key/value cache, so the loss must take the per-row path (the trainer
    switches checkpointing on in ``train()``, so this runs a real step)."""
    from jsontune.models import load_base_model, load_tokenizer

    params = tiny_params(tiny_model, activation_checkpointing=True, epochs=1.0)
    params.sft.batch_size = 4
    params.sft.lora.dropout = 0.0
    result = train_sft(load_base_model(params.model), load_tokenizer(params.model), chat_rows(schema), params.sft,
                       params.model, tmp_path)
    assert [math.isfinite(e["loss"]) for e in result["log"] if "loss" in e] == [True]
