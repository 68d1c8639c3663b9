"""Resource guard: estimate the memory SFT and DPO will need and fail before training when it cannot fit.

``jsontune check-params`` (the first thing ``make train`` runs) calls :func:`check_memory`, so a params file
that cannot fit fails in seconds with advice instead of being killed by the OOM killer an hour in.

The estimate is deliberately simple and conservative; its constants were calibrated against the peak RSS
that ``bench/`` measured on the embedded model (SFT 2.45 GB, DPO 6.6 GB, fp32, 2 CPU cores):

    fixed runtime (Python, torch, tokenizer)    1.0 GB
    weights                                     parameters x bytes per parameter (NF4: ~0.6)
    activations kept for backward               ACTIVATION_FACTOR x sequences x max_length x hidden x layers x bytes
    DPO log-probs over the vocabulary           2 (policy, reference) x sequences x max_length x vocab x 4 bytes

where ``sequences`` is the per-device batch (DPO: two per pair). It reads the model's ``config.json``
when the model is a local directory; for a hub id that is not downloaded yet it cannot know the size, and
``check-params`` says that it did not check instead of guessing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from jsontune.config import DpoParams, ModelParams, Params, SftParams

GB = 1024**3
FIXED_BYTES = 1.0 * GB
ACTIVATION_FACTOR = 20
BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}
NF4_BYTES_PER_PARAM = 0.6


class ResourceError(ValueError):
    """The configured training cannot fit in the memory this machine has."""


@dataclass(frozen=True)
class ModelShape:
    parameters: int
    hidden: int
    layers: int
    vocab: int

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        hidden, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
        inter = config.get("intermediate_size", 4 * hidden)
        heads = config.get("num_attention_heads", 1)
        kv = config.get("num_key_value_heads", heads)
        attention = hidden * hidden * 2 + 2 * hidden * (hidden * kv // heads)
        embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
        return cls(layers * (attention + 3 * hidden * inter) + embeddings, hidden, layers, vocab)


def model_shape(model: ModelParams) -> ModelShape | None:
    """From a local checkpoint's config.json; None for a hub id (nothing is downloaded to find out)."""
    config = Path(model.name) / "config.json"
    if not config.is_file():
        return None
    return ModelShape.from_config(json.loads(config.read_text(encoding="utf-8")))


def estimate_bytes(shape: ModelShape, model: ModelParams, p: SftParams | DpoParams, dpo: bool) -> float:
    per_param = NF4_BYTES_PER_PARAM if model.quantization == "nf4" else BYTES_PER_PARAM[model.dtype]
    # bf16: auto may resolve to fp32 on this machine; the conservative size counts it as fp32.
    act_bytes = 2.0 if p.bf16 is True or model.dtype != "float32" else 4.0
    sequences = p.batch_size * (2 if dpo else 1)
    activations = ACTIVATION_FACTOR * sequences * p.max_length * shape.hidden * shape.layers * act_bytes
    if p.activation_checkpointing:
        activations /= shape.layers  # one layer's activations at a time, plus the layer inputs
    logits = 2 * sequences * p.max_length * shape.vocab * 4.0 if dpo else 0.0
    return FIXED_BYTES + shape.parameters * per_param + activations + logits


def available_bytes() -> tuple[float, str] | None:
    """Free GPU memory when a CUDA device is visible, else the kernel's MemAvailable; None if unknown."""
    if shutil.which("nvidia-smi") and os.environ.get("CUDA_VISIBLE_DEVICES", "0") != "":
        import torch

        if torch.cuda.is_available():
            return float(torch.cuda.mem_get_info()[0]), "free GPU memory"
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024, "available RAM"
    return None


def check_memory(params: Params, available: tuple[float, str] | None = None) -> dict[str, float] | None:
    """The estimated bytes per training stage; raises ResourceError with advice when one cannot fit."""
    shape = model_shape(params.model)
    if shape is None:
        return None
    have = available if available is not None else available_bytes()
    needs = {"sft": estimate_bytes(shape, params.model, params.sft, dpo=False),
             "dpo": estimate_bytes(shape, params.model, params.dpo, dpo=True)}
    if have is None:
        return needs
    free, what = have
    for stage, need in needs.items():
        if need > free:
            p = getattr(params, stage)
            raise ResourceError(
                f"{stage}: needs about {need / GB:.1f} GB but only {free / GB:.1f} GB of {what} is free "
                f"(model {params.model.name}, {stage}.batch_size {p.batch_size}, {stage}.max_length "
                f"{p.max_length}). Lower {stage}.batch_size (raise {stage}.grad_accum to keep the effective "
                f"batch), lower {stage}.max_length, turn on {stage}.activation_checkpointing, or use "
                f"model.quantization: nf4.")
    return needs
