"""The resource guard: the memory estimate tracks what bench/ measured, grows with the knobs that cost
memory, and check-params fails early, with advice, when training cannot fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jsontune import resources
from jsontune.cli import main
from jsontune.config import load_params
from jsontune.resources import GB, ResourceError, check_memory, estimate_bytes, model_shape
from tests.conftest import EMBEDDED, REPO

# Peak RSS of the embedded model's SFT and DPO steps with the repo's params (bench/results.md).
MEASURED_GB = {"sft": 2.45, "dpo": 6.58}


@pytest.fixture()
def params():
    return load_params(REPO / "params.yaml")


@pytest.mark.skipif(not (EMBEDDED / "config.json").is_file(), reason="the embedded model is not built")
def test_estimate_is_conservative_but_close_to_the_measured_peak(params) -> None:
    needs = check_memory(params, available=(64 * GB, "test"))
    for stage, measured in MEASURED_GB.items():
        assert measured <= needs[stage] / GB <= 1.5 * measured, stage


def test_the_knobs_that_cost_memory_move_the_estimate(params, tiny_model: Path) -> None:
    params.model.name = str(tiny_model)
    shape = model_shape(params.model)
    base = estimate_bytes(shape, params.model, params.sft, dpo=False)
    params.sft.batch_size *= 2
    doubled = estimate_bytes(shape, params.model, params.sft, dpo=False)
    assert doubled > base
    params.sft.activation_checkpointing = True
    assert estimate_bytes(shape, params.model, params.sft, dpo=False) < doubled
    params.model.quantization = "nf4"
    assert estimate_bytes(shape, params.model, params.dpo, dpo=True) > estimate_bytes(
        shape, params.model, params.dpo, dpo=False)


def test_not_enough_memory_names_the_stage_the_knobs_and_the_fixes(params, tiny_model: Path) -> None:
    params.model.name = str(tiny_model)
    with pytest.raises(ResourceError) as info:
        check_memory(params, available=(0.5 * GB, "available RAM"))
    message = str(info.value)
    assert message.startswith("sft: needs about ") and "0.5 GB of available RAM" in message
    for advice in ("sft.batch_size 4", "sft.grad_accum", "sft.max_length", "activation_checkpointing", "nf4"):
        assert advice in message


def test_a_hub_model_that_is_not_downloaded_is_not_guessed(params) -> None:
    params.model.name = "Qwen/Qwen2.5-1.5B-Instruct"
    assert check_memory(params, available=(0.1 * GB, "test")) is None


def test_check_params_fails_early_when_training_cannot_fit(tmp_path: Path, tiny_model: Path, capsys,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["model"]["name"] = str(tiny_model)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setattr(resources, "available_bytes", lambda: (0.5 * GB, "available RAM"))
    assert main(["check-params", str(path)]) == 2
    assert "error: sft: needs about" in capsys.readouterr().err
    monkeypatch.setattr(resources, "available_bytes", lambda: (64 * GB, "available RAM"))
    assert main(["check-params", str(path)]) == 0
