"""Upload a merged model or a LoRA adapter to the Hugging Face hub: ``jsontune push`` / ``make push``.

Off by default (no stage calls it). The token is read from ``HF_TOKEN`` in the environment only, never
from an argument or a file, and is never printed. Only safetensors weights are uploaded.
"""

from __future__ import annotations

import os
from pathlib import Path

TOKEN_ENV = "HF_TOKEN"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class HubError(ValueError):
    """A folder that is not an uploadable model, or no token in the environment."""


def model_kind(folder: str | Path) -> str:
    """``adapter`` (PEFT adapter dir) or ``model`` (standalone checkpoint); anything else is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder}: no such directory")
    pickles = sorted(p.name for p in folder.rglob("*") if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise HubError(f"{folder}: refusing to upload pickle weights ({', '.join(pickles)}); use safetensors")
    if (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file():
        return "adapter"
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return "model"
    raise HubError(f"{folder}: not a merged model (config.json + *.safetensors) or a LoRA adapter "
                   "(adapter_config.json + adapter_model.safetensors)")


def push(folder: str | Path, repo_id: str, private: bool = True) -> str:
    """Create the hub repo if needed and upload the folder as one commit; returns the commit URL."""
    kind = model_kind(folder)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise HubError(f"set {TOKEN_ENV} in the environment to a Hugging Face token with write access")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                               commit_message=f"jsontune: upload {kind} from {Path(folder).as_posix()}")
    return str(getattr(commit, "commit_url", commit))
