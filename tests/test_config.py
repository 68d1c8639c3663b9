"""params.yaml is loaded strictly: the repo file and presets load, and every kind of mistake is a
ParamsError naming the file, the key path, the bad value and what is allowed."""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from jsontune.config import (
    RANGES,
    ModelParams,
    Params,
    ParamsError,
    SftParams,
    load_params,
    params_from_dict,
    to_dict,
)

REPO = Path(__file__).resolve().parent.parent
PARAMS = REPO / "params.yaml"
PRESET_DIRS = [REPO / "presets", REPO / "jsontune" / "presets"]
PRESETS = sorted(p for d in PRESET_DIRS if d.is_dir() for p in d.rglob("*.yaml"))


def yaml_key_paths(data: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= yaml_key_paths(value, path + ".")
        else:
            out.add(path)
    return out


def field_paths(cls: type, prefix: str = "") -> set[str]:
    out = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            out |= field_paths(hints[f.name], path + ".")
        else:
            out.add(path)
    return out


def field_type(path: str) -> Any:
    cls: Any = Params
    *parents, leaf = path.split(".")
    for name in parents:
        cls = typing.get_type_hints(cls)[name]
    return typing.get_type_hints(cls)[leaf]


def repo_data() -> dict[str, Any]:
    return yaml.safe_load(PARAMS.read_text(encoding="utf-8"))


def write_with(tmp_path: Path, key_path: str, value: Any, name: str = "params.yaml") -> Path:
    """A copy of the repo params.yaml with one key set (added when missing)."""
    data = copy.deepcopy(repo_data())
    *parents, leaf = key_path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ParamsError) as info:
        load_params(path)
    return str(info.value)


# ---------------------------------------------------------------- the repo file and presets


def test_repo_params_load_with_the_values_in_the_file():
    params = load_params(PARAMS)
    assert isinstance(params, Params)
    assert to_dict(params) == repo_data()
    assert params.model.quantization == "none"
    assert params.dataset.source == "synthetic"
    assert params.task.name == "support_ticket"
    assert isinstance(params.task.system_prompt, str)
    # Integers written for float fields are stored as floats.
    assert params.sft.epochs == repo_data()["sft"]["epochs"] and type(params.sft.epochs) is float


def test_repo_params_set_every_field_and_nothing_else():
    assert yaml_key_paths(repo_data()) == field_paths(Params)


def test_field_defaults_are_the_repo_params():
    """A params file that leaves keys out must get the committed recipe, not older built-in values."""
    assert to_dict(Params()) == repo_data()
    partial = params_from_dict({"sft": {"learning_rate": 0.002}})
    assert partial.sft.learning_rate == 0.002 and partial.dpo == load_params(PARAMS).dpo


def test_repo_params_round_trip():
    params = load_params(PARAMS)
    again = params_from_dict(to_dict(params))
    assert again == params
    assert to_dict(again) == to_dict(params)


def test_every_range_names_a_numeric_field():
    paths = field_paths(Params)
    for key, (lo, hi) in RANGES.items():
        assert key in paths, key
        assert field_type(key) in (int, float), key
        assert lo < hi, key


@pytest.mark.skipif(not PRESETS, reason="no presets/ folder")
@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: str(p.relative_to(REPO)))
def test_presets_load(preset: Path):
    params = load_params(preset)
    assert isinstance(params, Params)
    data = yaml.safe_load(preset.read_text(encoding="utf-8")) or {}
    assert yaml_key_paths(data) <= field_paths(Params)


# ---------------------------------------------------------------- unknown keys


def test_unknown_nested_key_suggests_the_close_match(tmp_path):
    path = write_with(tmp_path, "sft.batch_sise", 8)
    assert error_of(path) == f"{path}: sft.batch_sise: unknown key; did you mean 'batch_size'?"


def test_unknown_top_level_key_suggests_the_close_match(tmp_path):
    data = repo_data()
    data["modle"] = data.pop("model")
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert error_of(path) == f"{path}: modle: unknown key; did you mean 'model'?"


def test_unknown_deeply_nested_key_has_full_path(tmp_path):
    path = write_with(tmp_path, "sft.lora.alhpa", 32)
    assert error_of(path) == f"{path}: sft.lora.alhpa: unknown key; did you mean 'alpha'?"


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path):
    path = write_with(tmp_path, "sft.zzzzzz", 1)
    allowed = ", ".join(f.name for f in dataclasses.fields(SftParams))
    assert error_of(path) == f"{path}: sft.zzzzzz: unknown key; allowed keys: {allowed}"


# ---------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sft.batch_size", "eight", "'eight' is not int"),
        ("sft.batch_size", 8.0, "8.0 is not int"),
        ("sft.batch_size", True, "True is not int"),
        ("sft.batch_size", None, "None is not int"),
        ("sft.bf16", "yes", "'yes' is not bool or 'auto'"),
        ("dpo.bf16", 1, "1 is not bool or 'auto'"),
        ("sft.learning_rate", "fast", "'fast' is not float"),
        ("sft.learning_rate", False, "False is not float"),
        ("model.name", 123, "123 is not str"),
        ("sft.lora.target_modules", [1, 2], "[1, 2] is not list[str] | str"),
    ],
)
def test_wrong_type_names_key_value_and_type(tmp_path, key, value, message):
    path = write_with(tmp_path, key, value)
    assert error_of(path) == f"{path}: {key}: {message}"


def test_section_that_is_not_a_mapping(tmp_path):
    path = write_with(tmp_path, "sft", 3)
    assert error_of(path) == f"{path}: sft: expected a mapping, got 3"


def test_top_level_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert error_of(path) == f"{path}: (top level): expected a mapping, got ['a', 'b']"


def test_target_modules_accepts_a_string(tmp_path):
    params = load_params(write_with(tmp_path, "sft.lora.target_modules", "all-linear"))
    assert params.sft.lora.target_modules == "all-linear"


# ---------------------------------------------------------------- ranges and literals


@pytest.mark.parametrize(
    ("key", "value", "bounds"),
    [
        ("dataset.test_fraction", 0.9, "[0.01, 0.5]"),
        ("dataset.test_fraction", 0.0, "[0.01, 0.5]"),
        ("merge.min_agreement", 1.5, "[0.0, 1.0]"),
        ("merge.min_agreement", -0.1, "[0.0, 1.0]"),
        ("sft.batch_size", 0, "[1, 4096]"),
        ("sft.lora.r", 2000, "[1, 1024]"),
        ("dpo.hard_negatives_per_prompt", 21, "[0, 20]"),
    ],
)
def test_out_of_range_names_key_value_and_bounds(tmp_path, key, value, bounds):
    path = write_with(tmp_path, key, value)
    shown = float(value) if field_type(key) is float else value
    assert error_of(path) == f"{path}: {key}: {shown!r} is out of range {bounds}"


@pytest.mark.parametrize(("key", "value"), [("merge.min_agreement", 1.0), ("merge.min_agreement", 0.0),
                                            ("dataset.test_fraction", 0.5), ("sft.batch_size", 1)])
def test_range_bounds_are_inclusive(tmp_path, key, value):
    params = load_params(write_with(tmp_path, key, value))
    section, *rest = key.split(".")
    assert getattr(getattr(params, section), rest[-1]) == value


def test_fractions_must_leave_training_data(tmp_path):
    data = repo_data()
    data["dataset"]["val_fraction"] = 0.45
    data["dataset"]["test_fraction"] = 0.5
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert error_of(path) == (f"{path}: dataset.val_fraction + dataset.test_fraction must leave data to "
                              f"train on")


def test_best_adapter_without_a_validation_split_fails_before_any_stage(tmp_path):
    path = write_with(tmp_path, "dataset.val_fraction", 0.0)
    assert error_of(path) == (f"{path}: merge.adapter: best picks the adapter on the validation split, but "
                              "dataset.val_fraction is 0; set a val_fraction or merge.adapter: dpo | sft")
    data = repo_data()
    data["dataset"]["val_fraction"], data["merge"]["adapter"] = 0.0, "dpo"
    assert params_from_dict(data).merge.adapter == "dpo"


def test_dpo_without_any_source_of_pairs_fails_before_any_stage(tmp_path):
    data = repo_data()
    data["dpo"]["hard_negatives_per_prompt"], data["dpo"]["on_policy"] = 0, False
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert error_of(path) == (f"{path}: dpo.hard_negatives_per_prompt is 0 and dpo.on_policy is false: DPO "
                              "would have no preference pairs; raise one or enable the other")
    data["dpo"]["on_policy"] = True
    assert params_from_dict(data).dpo.hard_negatives_per_prompt == 0


def test_bad_literal_lists_allowed_values(tmp_path):
    path = write_with(tmp_path, "model.quantization", "nf8")
    assert error_of(path) == f"{path}: model.quantization: 'nf8' is not one of 'none', 'nf4'"


def test_bad_merge_adapter_lists_allowed_values(tmp_path):
    path = write_with(tmp_path, "merge.adapter", "last")
    assert error_of(path) == f"{path}: merge.adapter: 'last' is not one of 'dpo', 'sft', 'best'"


@pytest.mark.parametrize("section", ["sft", "dpo"])
def test_bad_attention_kernel_lists_allowed_values(tmp_path, section):
    path = write_with(tmp_path, f"{section}.attn_implementation", "flash_attention_2")
    assert error_of(path) == (f"{path}: {section}.attn_implementation: 'flash_attention_2' is not one of "
                              "'sdpa', 'eager'")


@pytest.mark.parametrize("value", ["nf4", "none"])
def test_allowed_literals_load(tmp_path, value):
    assert load_params(write_with(tmp_path, "model.quantization", value)).model.quantization == value
    assert typing.get_args(typing.get_type_hints(ModelParams)["quantization"]) == ("none", "nf4")


# ---------------------------------------------------------------- numbers YAML reads as strings


def test_exponent_without_dot_parses_as_float(tmp_path):
    text = PARAMS.read_text(encoding="utf-8")
    lines = re.findall(r"^  learning_rate: .*$", text, flags=re.M)
    assert len(lines) == 2  # sft, then dpo
    text = text.replace(lines[0], "  learning_rate: 1e-3", 1)
    text = text.replace(lines[1], "  learning_rate: 5E-5", 1)
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["sft"]["learning_rate"] == "1e-3"  # what makes this test meaningful
    params = load_params(path)
    assert params.sft.learning_rate == 0.001 and type(params.sft.learning_rate) is float
    assert params.dpo.learning_rate == 5e-5 and type(params.dpo.learning_rate) is float


def test_exponent_string_is_range_checked(tmp_path):
    text = re.sub(r"^  learning_rate: .*$", "  learning_rate: 2e0", PARAMS.read_text(encoding="utf-8"), count=1,
                  flags=re.M)
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    assert error_of(path) == f"{path}: sft.learning_rate: 2.0 is out of range [1e-08, 1.0]"


def test_exponent_string_is_not_accepted_for_int(tmp_path):
    text = re.sub(r"^  max_length: .*$", "  max_length: 1e3", PARAMS.read_text(encoding="utf-8"), count=1,
                  flags=re.M)
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    assert error_of(path) == f"{path}: sft.max_length: '1e3' is not int"


# ---------------------------------------------------------------- files


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert error_of(path) == f"{path}: params file not found"


def test_invalid_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name: [unclosed\n", encoding="utf-8")
    message = error_of(path)
    assert message.startswith(f"{path}: not valid YAML: ")
    assert "line" in message


def test_params_error_is_a_value_error():
    assert issubclass(ParamsError, ValueError)


def test_params_from_dict_names_the_source():
    with pytest.raises(ParamsError) as info:
        params_from_dict({"dpo": {"beta": 0}}, source="inline")
    assert str(info.value) == "inline: dpo.beta: 0.0 is out of range [0.0001, 10.0]"


@pytest.mark.parametrize(("decoding", "ok"), [(["free", "constrained"], True), (["free"], True),
                                              (["constrained"], False), (["free", "free"], False),
                                              (["free", "beam"], False)])
def test_eval_decoding_must_list_free_once_and_known_modes(decoding: list, ok: bool) -> None:
    data = {"eval": {"decoding": decoding}}
    if ok:
        assert params_from_dict(data).eval.decoding == decoding
    else:
        with pytest.raises(ParamsError, match="eval.decoding"):
            params_from_dict(data)


def test_two_extra_sets_with_one_name_are_refused() -> None:
    with pytest.raises(ParamsError, match="same name"):
        params_from_dict({"eval": {"extra_sets": ["a/mine.jsonl", "b/mine.jsonl"]}})
