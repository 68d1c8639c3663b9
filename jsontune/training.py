"""LoRA/QLoRA fine-tuning with TRL: SFT on the answer tokens only, then DPO from the SFT adapter.

The config builders depend only on the params (and, for bf16, on whether the machine has a bf16
accelerator) so tests can check exactly which TRL/PEFT objects a params file implies without loading a
model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsontune.config import DpoParams, LoraParams, ModelParams, ParamsError, SftParams

# Keys that TRL needs for conversational prompt/completion and preference data.
SFT_COLUMNS = ("prompt", "completion")
DPO_COLUMNS = ("prompt", "chosen", "rejected")


def score_only_answer_positions_on_cpu() -> None:
    """Make TRL's fused LM head project only the labelled (answer) positions on CPU too.

    TRL 1.16 scores *every* position on devices without Triton, to keep tile shapes fixed for compiled
    backends such as Neuron; on an eager CPU that only multiplies the LM-head work by the prompt length
    (measured here: a DPO step of 8 pairs went from 41 s to about 20 s). Values are unchanged: masked
    positions are zeroed either way.
    """
    from trl.trainer import utils as trl_utils

    original = trl_utils._use_triton
    if getattr(original, "_jsontune_cpu_compact", False):
        return

    def use_compact(device: Any) -> bool:
        return original(device) or device.type == "cpu"

    use_compact._jsontune_cpu_compact = True  # type: ignore[attr-defined]
    trl_utils._use_triton = use_compact


def lora_config(p: LoraParams) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=p.r, lora_alpha=p.alpha, lora_dropout=p.dropout, target_modules=p.target_modules,
                      bias="none", task_type="CAUSAL_LM")


def native_bf16() -> bool:
    """Whether this machine computes bf16 in hardware: a CUDA GPU with bf16, or (without CUDA) a CPU
    with AVX512-BF16 or AMX. Elsewhere bf16 is emulated and slower than fp32."""
    import torch

    if torch.cuda.is_available():
        from transformers.utils import is_torch_bf16_gpu_available

        return bool(is_torch_bf16_gpu_available())
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def use_bf16(setting: bool | str) -> bool:
    """``sft.bf16`` / ``dpo.bf16`` resolved: ``auto`` means bf16 exactly where the hardware has it."""
    return native_bf16() if setting == "auto" else bool(setting)


def training_base(model: ModelParams, p: SftParams | DpoParams) -> ModelParams:
    """The model params to load the frozen base with for training. Under bf16 autocast every base matmul
    runs in bf16 anyway; on CPU an unquantized fp32 base is held in bf16 so no step re-casts the weights
    (the 1 400-row SFT: 998 s vs 1 114 s with autocast over fp32 weights, 1.12x). Adapters stay fp32
    (PEFT's default), and evaluation and merging still load the params dtype."""
    import torch

    if (model.quantization == "none" and model.dtype == "float32" and not torch.cuda.is_available()
            and use_bf16(p.bf16)):
        return dataclasses.replace(model, dtype="bfloat16")
    return model


def bf16_on_cpu(bf16: bool) -> bool:
    """Whether a bf16 run must be told to use the CPU (transformers refuses bf16 without an accelerator
    unless ``use_cpu`` is set). A CUDA GPU without bf16 (e.g. a T4) is an error, not a silent CPU run."""
    if not bf16:
        return False
    import torch
    from transformers.utils import is_torch_bf16_gpu_available

    if is_torch_bf16_gpu_available():
        return False
    if torch.cuda.is_available():
        raise ParamsError(f"bf16: true, but the GPU ({torch.cuda.get_device_name()}) has no bf16 support; "
                          "set sft.bf16 and dpo.bf16 to false in params.yaml (and model.dtype: float32)")
    if not native_bf16():
        print("warning: bf16 on a CPU without native bf16 instructions (AVX512-BF16/AMX) is emulated and "
              "much slower than float32; set bf16: auto (or false) in params.yaml", file=sys.stderr)
    return True


def _common_args(p: SftParams | DpoParams, output_dir: str | Path, model: ModelParams,
                 checkpoint_dir: str | Path | None = None) -> dict[str, Any]:
    """Arguments SFT and DPO share; TRL's own defaults (bf16, checkpointing) are overridden from params
    because both are slower on CPU. With a ``checkpoint_dir`` the trainer saves a resumable checkpoint
    (adapter, optimizer, scheduler, RNG state) every ``save_steps`` steps there, keeping only the last."""
    saving = checkpoint_dir is not None and p.save_steps > 0
    bf16 = use_bf16(p.bf16)
    return {
        "output_dir": str(checkpoint_dir if checkpoint_dir is not None else output_dir),
        "num_train_epochs": p.epochs,
        "per_device_train_batch_size": p.batch_size,
        "gradient_accumulation_steps": p.grad_accum,
        "learning_rate": p.learning_rate,
        "lr_scheduler_type": p.lr_scheduler,
        "max_length": p.max_length,
        "optim": p.optimizer,
        "bf16": bf16,
        "use_cpu": bf16_on_cpu(bf16),
        "activation_checkpointing": p.activation_checkpointing,
        "seed": p.seed,
        "data_seed": p.seed,
        "logging_steps": 1,
        "save_strategy": "steps" if saving else "no",
        "save_steps": p.save_steps if saving else 500,
        "save_total_limit": 1,
        "report_to": [],
        "disable_tqdm": False,
        "trust_remote_code": model.trust_remote_code,
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,  # LoRA trains every adapter weight; avoids a graph walk per step
    }


def sft_config(p: SftParams, output_dir: str | Path, model: ModelParams,
               checkpoint_dir: str | Path | None = None) -> Any:
    from trl import SFTConfig

    return SFTConfig(**_common_args(p, output_dir, model, checkpoint_dir), warmup_steps=p.warmup_ratio,
                     completion_only_loss=True,
                     train_sampling_strategy="group_by_length" if p.group_by_length else "random")


def dpo_config(p: DpoParams, output_dir: str | Path, model: ModelParams,
               checkpoint_dir: str | Path | None = None) -> Any:
    from trl import DPOConfig

    kw: dict[str, Any] = {"beta": p.beta}
    if p.sft_weight > 0:
        kw.update(loss_type=["sigmoid", "sft"], loss_weights=[1.0, p.sft_weight])
    return DPOConfig(**_common_args(p, output_dir, model, checkpoint_dir), **kw)


CURVE_KEYS = ("loss", "learning_rate", "grad_norm", "mean_token_accuracy", "rewards/accuracies", "rewards/margins")


def log_curves(live_dir: str | Path, log_history: Sequence[dict[str, Any]]) -> None:
    """Per-step training curves for ``dvc plots``, written with dvclive from the trainer's own history
    (one row per logged step; the end-of-training summary row is skipped)."""
    from dvclive import Live

    live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)
    for entry in log_history:
        if "loss" not in entry:
            continue
        live.step = int(entry["step"])
        for key in CURVE_KEYS:
            if key in entry:
                live.log_metric(key.replace("/", "_"), float(entry[key]))
    live.end()


def _dataset(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{k: r[k] for k in columns} for r in rows])


def _prepare(model: Any, quantized: bool, attn_implementation: str) -> Any:
    model.set_attn_implementation(attn_implementation)
    if quantized:
        from peft import prepare_model_for_kbit_training

        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model


SHARED_PREFIX_MIN = 8
"""A shorter common prefix is not worth the extra forward call."""


def shared_prompt_prefix(input_ids: Any, attention_mask: Any, labels: Any) -> int:
    """Leading columns to run once for the whole batch: identical token in every row, unpadded and
    unlabelled (the chat header and system prompt), ending one column early so every labelled position
    is predicted from the per-row part. 0 when shorter than :data:`SHARED_PREFIX_MIN` or for one row."""
    if input_ids.shape[0] < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(0) & (labels == -100).all(0)
    if attention_mask is not None:
        same &= (attention_mask == 1).all(0)
    n = min(int(same.long().cumprod(0).sum()) - 1, input_ids.shape[1] - 2)
    return n if n >= SHARED_PREFIX_MIN else 0


def _dropout_active(model: Any) -> bool:
    """Any module training with dropout (LoRA dropout, or the model's attention dropout)."""
    import torch

    attention = float(getattr(model.config, "attention_dropout", 0.0) or 0.0) > 0
    return any(m.training and (attention or isinstance(m, torch.nn.Dropout) and m.p > 0) for m in model.modules())


def prefix_to_share(causal_lm: Any, inputs: dict[str, Any]) -> int:
    """Columns of this batch the loss runs once (:func:`shared_prompt_prefix`), or 0 where sharing would
    change the result or cannot run: active dropout (e.g. ``sft.lora.dropout`` > 0; the rows would share
    one dropout mask on the prefix), activation checkpointing (transformers returns no key/value cache
    there) and padding-free batches (``position_ids``)."""
    if (inputs.get("position_ids") is not None or _dropout_active(causal_lm)
            or bool(getattr(causal_lm, "is_activation_checkpointing", False))):
        return 0
    return shared_prompt_prefix(inputs["input_ids"], inputs.get("attention_mask"), inputs["labels"])


def _hidden_states(causal_lm: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """Last hidden states and the labels they predict (shifted by one), the prompt prefix every row shares
    computed once (:func:`prefix_to_share`): its keys/values are repeated for the batch, so the loss and
    gradients are those of the full batch (the prefix gets the sum of every row's gradient) for less work."""
    import torch

    ids, mask, labels = inputs["input_ids"], inputs.get("attention_mask"), inputs["labels"]
    shared = prefix_to_share(causal_lm, inputs)
    if not shared:
        hidden = causal_lm.model(input_ids=ids, attention_mask=mask, position_ids=inputs.get("position_ids"),
                                 use_cache=False).last_hidden_state
        return hidden[:, :-1], labels[:, 1:]
    cache = causal_lm.model(input_ids=ids[:1, :shared], use_cache=True).past_key_values
    cache.batch_repeat_interleave(ids.shape[0])
    positions = torch.arange(shared, ids.shape[1], device=ids.device).expand(ids.shape[0], -1)
    hidden = causal_lm.model(input_ids=ids[:, shared:], attention_mask=mask, position_ids=positions,
                             past_key_values=cache, use_cache=True).last_hidden_state
    return hidden[:, :-1], labels[:, shared + 1:]


def answer_only_loss(causal_lm: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> tuple[Any, Any]:
    """Cross-entropy over the answer tokens, projecting only their hidden states onto the vocabulary.

    TRL's default loss path builds log-probs for every position (prompt included) through a chunked
    LM head; on a 49k vocabulary that is about half of a CPU training step although the prompt is
    masked anyway. The prompt prefix all rows share runs once per batch (:func:`_hidden_states`).
    Returns the loss and the top-1 accuracy on the answer tokens.
    """
    import torch
    import torch.nn.functional as F

    hidden, targets = _hidden_states(causal_lm, inputs)
    keep = targets != -100
    logits = causal_lm.lm_head(hidden[keep]).float()
    wanted = targets[keep]
    denominator = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    loss = F.cross_entropy(logits, wanted, reduction="sum") / torch.as_tensor(denominator).clamp(min=1)
    with torch.no_grad():
        accuracy = (logits.argmax(-1) == wanted).float().mean() if len(wanted) else torch.tensor(0.0)
    return loss, accuracy


def _answer_only_trainer_class() -> type:
    from trl import SFTTrainer

    class AnswerOnlySFTTrainer(SFTTrainer):
        """SFTTrainer whose loss touches the LM head only at answer positions (same loss, less work)."""

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            if return_outputs or self.accelerator.num_processes > 1:
                # Under DDP/FSDP the forward must go through the wrapped model (gradient sync, sharding).
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            unwrapped = self.accelerator.unwrap_model(model)
            causal_lm = unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else unwrapped
            # The unwrapped model has lost accelerate's mixed-precision wrapper: bf16 runs need it back.
            with self.accelerator.autocast():
                loss, accuracy = answer_only_loss(causal_lm, inputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes
            mode = "train" if model.training else "eval"
            self._metrics[mode]["mean_token_accuracy"].append(accuracy.item())
            return loss

    return AnswerOnlySFTTrainer


def sft_trainer(base_model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]], p: SftParams,
                model_params: ModelParams, output_dir: str | Path, checkpoint_dir: str | Path | None = None) -> Any:
    """An ``SFTTrainer`` over prompt/completion rows: TRL masks the prompt, so only the answer trains."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    score_only_answer_positions_on_cpu()
    model = _prepare(base_model, model_params.quantization != "none", p.attn_implementation)
    return _answer_only_trainer_class()(model=model, args=sft_config(p, output_dir, model_params, checkpoint_dir),
                      train_dataset=_dataset(rows, SFT_COLUMNS), processing_class=tokenizer,
                      peft_config=lora_config(p.lora))


def check_ranks_agree(trainer: Any) -> None:
    """Under DDP every rank must end with the same adapter weights; a training path that bypassed the
    wrapped model would silently train N separate adapters. Raises if the ranks' weight sums differ."""
    acc = trainer.accelerator
    if acc.num_processes == 1 or trainer.is_fsdp_enabled:  # FSDP ranks hold different shards by design
        return
    import torch

    model = acc.unwrap_model(trainer.model)
    total = sum(p.detach().double().sum() for p in model.parameters() if p.requires_grad)
    sums = acc.gather(torch.as_tensor(total, dtype=torch.float64, device=acc.device).reshape(1))
    if not torch.equal(sums, sums[:1].expand_as(sums)):
        raise RuntimeError(f"adapter weights differ between the {acc.num_processes} ranks: {sums.tolist()}")


def save_adapter(trainer: Any, output_dir: str | Path) -> None:
    """Every rank takes part (FSDP gathers the full adapter from its shards); only the main process writes."""
    state = trainer.accelerator.get_state_dict(trainer.model) if trainer.is_fsdp_enabled else None
    if trainer.is_world_process_zero():
        model = trainer.accelerator.unwrap_model(trainer.model)
        for config in model.peft_config.values():
            # ``all-linear`` resolves to a set, written in hash-seed order: sorted, the adapter folder (a DVC
            # output) hashes the same on every run, and unchanged weights do not rerun the stages after it.
            if isinstance(config.target_modules, set):
                config.target_modules = sorted(config.target_modules)
        model.save_pretrained(output_dir, safe_serialization=True, state_dict=state)
    trainer.accelerator.wait_for_everyone()


def _train(trainer: Any, checkpoint_dir: str | Path | None, stage: str) -> tuple[Any, int | None]:
    """``trainer.train()``, resumed from the newest complete checkpoint in ``checkpoint_dir`` if any."""
    from jsontune.checkpoints import checkpoint_step, last_checkpoint

    resume = last_checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    if resume is None:
        return trainer.train(), None
    print(f"{stage}: resuming from {resume} (step {checkpoint_step(resume)})", file=sys.stderr, flush=True)
    return trainer.train(resume_from_checkpoint=str(resume)), checkpoint_step(resume)


def _finish(trainer: Any, result: Any, resumed: int | None, output_dir: str | Path,
            live_dir: str | Path | None) -> dict:
    check_ranks_agree(trainer)
    save_adapter(trainer, output_dir)
    if live_dir is not None and trainer.is_world_process_zero():
        log_curves(live_dir, trainer.state.log_history)
    return {"train": result.metrics, "log": trainer.state.log_history, "resumed_from_step": resumed,
            "num_processes": trainer.accelerator.num_processes, "bf16": bool(trainer.args.bf16)}


def train_sft(base_model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]], p: SftParams,
              model_params: ModelParams, output_dir: str | Path, live_dir: str | Path | None = None,
              checkpoint_dir: str | Path | None = None) -> dict:
    """Train a LoRA adapter and save it; returns the train metrics, the per-step log and the step it
    resumed from (None for a fresh start). Checkpoints go to ``checkpoint_dir`` when given."""
    trainer = sft_trainer(base_model, tokenizer, rows, p, model_params, output_dir, checkpoint_dir)
    result, resumed = _train(trainer, checkpoint_dir, "sft")
    return _finish(trainer, result, resumed, output_dir, live_dir)


def dpo_trainer(base_model: Any, tokenizer: Any, pairs: Sequence[dict[str, Any]], p: DpoParams,
                model_params: ModelParams, sft_adapter: str | Path, output_dir: str | Path,
                checkpoint_dir: str | Path | None = None) -> Any:
    """A ``DPOTrainer`` whose policy starts from the SFT adapter (``ref_model=None``: the reference is
    a frozen copy of that adapter)."""
    from peft import PeftModel
    from trl import DPOTrainer

    from jsontune.models import checked_adapter

    score_only_answer_positions_on_cpu()
    model = _prepare(base_model, model_params.quantization != "none", p.attn_implementation)
    model = PeftModel.from_pretrained(model, checked_adapter(sft_adapter), is_trainable=True)
    return DPOTrainer(model=model, ref_model=None, args=dpo_config(p, output_dir, model_params, checkpoint_dir),
                      train_dataset=_dataset(pairs, DPO_COLUMNS), processing_class=tokenizer)


def train_dpo(base_model: Any, tokenizer: Any, pairs: Sequence[dict[str, Any]], p: DpoParams,
              model_params: ModelParams, sft_adapter: str | Path, output_dir: str | Path,
              live_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None) -> dict:
    """DPO continuing from the SFT adapter; TRL keeps a frozen copy of it as the reference policy.
    Checkpoints (both adapters, optimizer, RNG) go to ``checkpoint_dir`` when given."""
    trainer = dpo_trainer(base_model, tokenizer, pairs, p, model_params, sft_adapter, output_dir, checkpoint_dir)
    result, resumed = _train(trainer, checkpoint_dir, "dpo")
    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    if "ref" in unwrapped.peft_config:
        unwrapped.delete_adapter("ref")
    return _finish(trainer, result, resumed, output_dir, live_dir)


def write_train_log(path: str | Path, result: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
