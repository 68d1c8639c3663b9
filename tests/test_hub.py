"""`jsontune push`: the hub client is replaced at its boundary (huggingface_hub.HfApi), so nothing
reaches the network; the token comes only from HF_TOKEN and is never printed or logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest

from jsontune.cli import main

TOKEN = "hf_secretTOKEN1234567890"


class FakeApi:
    instances: list[FakeApi] = []

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        FakeApi.instances.append(self)

    def create_repo(self, repo_id: str, **kw: Any) -> str:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kw: Any) -> Any:
        self.calls.append(("upload_folder", kw))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{kw['repo_id']}/commit/abc"})()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> type[FakeApi]:
    FakeApi.instances = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi


def merged_dir(root: Path) -> Path:
    d = root / "merged"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "model.safetensors").write_bytes(b"x")
    (d / "tokenizer.json").write_text("{}")
    return d


def adapter_dir(root: Path) -> Path:
    d = root / "adapter"
    d.mkdir()
    (d / "adapter_config.json").write_text("{}")
    (d / "adapter_model.safetensors").write_bytes(b"x")
    return d


@pytest.mark.parametrize("make_dir", [merged_dir, adapter_dir])
def test_push_uploads_the_folder_with_the_env_token(hub, monkeypatch, tmp_path, capsys, caplog, make_dir) -> None:
    folder = make_dir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    assert main(["push", "--model", str(folder), "--repo-id", "me/jsontune-ticket"]) == 0
    (api,) = hub.instances
    assert api.token == TOKEN
    assert api.calls[0] == ("create_repo", {"repo_id": "me/jsontune-ticket", "repo_type": "model", "private": True,
                                            "exist_ok": True})
    name, upload = api.calls[1]
    assert name == "upload_folder" and upload["folder_path"] == str(folder)
    assert upload["repo_id"] == "me/jsontune-ticket"
    out = capsys.readouterr()
    assert "me/jsontune-ticket/commit/abc" in out.err
    assert TOKEN not in out.out + out.err + caplog.text


def test_public_is_explicit(hub, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["push", "--model", str(merged_dir(tmp_path)), "--repo-id", "me/x", "--public"]) == 0
    assert hub.instances[0].calls[0][1]["private"] is False


def test_no_token_is_a_clear_error_before_any_hub_call(hub, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["push", "--model", str(merged_dir(tmp_path)), "--repo-id", "me/x"]) == 2
    assert "set HF_TOKEN in the environment" in capsys.readouterr().err
    assert hub.instances == []


@pytest.mark.parametrize(("files", "message"), [
    ({"notes.txt": "x"}, "not a merged model"),
    ({"config.json": "{}", "pytorch_model.bin": "x"}, "refusing to upload pickle weights (pytorch_model.bin)"),
])
def test_only_safetensors_models_are_uploaded(hub, monkeypatch, tmp_path, capsys, files, message) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["push", "--model", str(tmp_path), "--repo-id", "me/x"]) == 2
    assert message in capsys.readouterr().err
    assert hub.instances == []
