"""Safe by default: no pickle or eval anywhere in the package, safetensors-only loading (a malicious
pickle is refused, not run), ``trust_remote_code`` off unless the params turn it on, local models opened
with the hub disabled, one clear message for an unreachable hub model, and no place for a token in params.

The end-to-end checks (no network connection during a whole tiny pipeline run without HF_HUB_OFFLINE,
the HF token never written anywhere) are in tests/test_determinism.py, which runs that pipeline anyway."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from jsontune.cli import stage_main
from jsontune.config import ModelParams, Params
from tests.conftest import REPO

UNSAFE = {
    "torch.load (pickle)": re.compile(r"\btorch\.load\s*\("),
    "pickle": re.compile(r"\b(import|from)\s+(c?pickle|dill|marshal|shelve|joblib)\b"
                         r"|\b(c?pickle|dill|marshal|shelve|joblib)\.(loads?|Unpickler)\b"),
    "eval/exec": re.compile(r"(?<![.\w])(eval|exec)\s*\("),
    "literal_eval": re.compile(r"literal_eval"),
    "yaml.load": re.compile(r"yaml\.(unsafe_)?load\s*\("),
    "trust_remote_code=True": re.compile(r"trust_remote_code\s*=\s*True"),
    "safe_serialization=False": re.compile(r"safe_serialization\s*=\s*False"),
    "use_safetensors=False": re.compile(r"use_safetensors\s*=\s*False"),
}


def test_no_unsafe_loading_or_evaluation_in_the_code() -> None:
    files = sorted([*(REPO / "jsontune").rglob("*.py"), *(REPO / "stages").glob("*.py")])
    assert len(files) > 10
    found = [f"{path.relative_to(REPO)}:{i}: {what}"
             for path in files for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             for what, pattern in UNSAFE.items() if pattern.search(line)]
    assert found == []


def test_the_scanner_catches_what_it_looks_for() -> None:
    bad = ["state = torch.load(f)", "import pickle", "obj = pickle.loads(raw)", "x = eval(raw)", "yaml.load(text)",
           "AutoModel.from_pretrained(p, trust_remote_code=True)", "m.save_pretrained(d, safe_serialization=False)"]
    assert all(any(p.search(line) for p in UNSAFE.values()) for line in bad)
    fine = ["model.eval()", "yaml.safe_load(t)", '"""never pickle-based .bin files"""']
    assert not any(p.search(line) for p in UNSAFE.values() for line in fine)


def test_params_have_no_place_for_a_token() -> None:
    params = json.dumps(dataclasses.asdict(Params()))
    assert "token" not in params.replace("max_new_tokens", "")  # the HF token is read from the environment only


# ---------------------------------------------------------------- what the loaders ask transformers for


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    import transformers

    calls: list[dict] = []

    def fake(kind: str):
        def from_pretrained(src, **kwargs):
            calls.append({"kind": kind, "src": src, **kwargs})
            return SimpleNamespace(pad_token="<pad>", eos_token="<eos>")
        return from_pretrained

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake("model"))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake("tokenizer"))
    return calls


def test_loaders_use_safetensors_and_no_remote_code_by_default(captured: list[dict], tiny_model: Path) -> None:
    from jsontune.models import load_base_model, load_tokenizer

    params = ModelParams(name=str(tiny_model))
    load_tokenizer(params)
    load_base_model(params)
    load_base_model(params, quantize=False)
    assert [c["kind"] for c in captured] == ["tokenizer", "model", "model"]
    assert all(c["trust_remote_code"] is False and c["local_files_only"] is True for c in captured)
    assert all(c["use_safetensors"] is True for c in captured if c["kind"] == "model")


def test_trust_remote_code_only_when_the_params_say_so(captured: list[dict], tiny_model: Path) -> None:
    from jsontune.models import load_base_model, load_tokenizer
    from jsontune.training import dpo_config, sft_config

    params = ModelParams(name=str(tiny_model), trust_remote_code=True)
    load_tokenizer(params)
    load_base_model(params)
    assert all(c["trust_remote_code"] is True for c in captured)
    p = Params()
    assert sft_config(p.sft, "o", p.model).trust_remote_code is False
    assert dpo_config(p.dpo, "o", p.model).trust_remote_code is False
    assert sft_config(p.sft, "o", params).trust_remote_code is True


def test_local_model_turns_the_hub_off_for_the_process(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hub

    from jsontune.models import load_tokenizer

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    load_tokenizer(ModelParams(name=str(tiny_model)))
    assert hub.HF_HUB_OFFLINE is True  # huggingface_hub read the env at import; the flag itself is set


# ---------------------------------------------------------------- pickle files are refused, never run


class _Payload:
    """Unpickling this creates a file: proof that a pickle was loaded (and could have run anything)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_model_with_only_pickle_weights_is_refused_unloaded(tmp_path: Path, tiny_model: Path) -> None:
    from jsontune.models import ModelError, load_base_model

    model_dir = tmp_path / "pickled"
    model_dir.mkdir()
    shutil.copy(tiny_model / "config.json", model_dir)
    marker = tmp_path / "PWNED"
    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelError, match=r"no \.safetensors weights; jsontune loads weights as safetensors only"):
        load_base_model(ModelParams(name=str(model_dir)))
    assert not marker.exists()


@pytest.mark.parametrize("use", ["inference", "merge", "dpo"])
def test_adapter_with_only_pickle_weights_is_refused_unloaded(use: str, tmp_path: Path, tiny_model: Path) -> None:
    from jsontune.models import ModelError, load_for_inference, merge_adapter
    from jsontune.training import train_dpo

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4,
                                                             "target_modules": ["q_proj"]}))
    marker = tmp_path / "PWNED"
    (adapter / "adapter_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    params = ModelParams(name=str(tiny_model))
    with pytest.raises(ModelError, match="no adapter_model.safetensors"):
        if use == "inference":
            load_for_inference(params, adapter)
        elif use == "merge":
            merge_adapter(params, adapter, tmp_path / "merged", tokenizer=None)
        else:
            from jsontune.models import load_base_model

            train_dpo(load_base_model(params), None, [], Params().dpo, params, adapter, tmp_path / "dpo")
    assert not marker.exists()


# ---------------------------------------------------------------- a hub model without access


def test_unreachable_hub_model_fails_the_stage_with_one_clear_message(tmp_path: Path, capsys,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from jsontune.pipeline import run_baseline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "params.yaml").write_text("model:\n  name: jsontune-test/no-such-model\n")
    with pytest.raises(SystemExit) as info:
        stage_main(run_baseline, ["--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not load 'jsontune-test/no-such-model' from the Hugging Face hub (")
    assert "copy the directory here and point model.name (or `jsontune predict --model`) at it" in err
    assert "HF_TOKEN" in err
    assert "Traceback" not in err and err.count("\n") == 1
