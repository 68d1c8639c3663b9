"""Pipeline decisions that need no model: which adapter the merge stage takes."""

from __future__ import annotations

import pytest

from jsontune.config import ParamsError
from jsontune.pipeline import choose_adapter


def val(sft: tuple[float, float], dpo: tuple[float, float]) -> dict:
    return {s: {"exact_match": em, "schema_validity": sv} for s, (em, sv) in (("sft", sft), ("dpo", dpo))}


def test_best_takes_the_higher_validation_exact_match_then_schema_validity() -> None:
    assert choose_adapter("best", val((0.85, 1.0), (0.84, 1.0))) == "sft"
    assert choose_adapter("best", val((0.84, 1.0), (0.85, 0.9))) == "dpo"
    assert choose_adapter("best", val((0.85, 1.0), (0.85, 0.99))) == "sft"


def test_a_tie_goes_to_dpo_and_an_explicit_choice_ignores_validation() -> None:
    assert choose_adapter("best", val((0.85, 0.995), (0.85, 0.995))) == "dpo"
    assert choose_adapter("sft", val((0.1, 0.1), (0.9, 1.0))) == "sft"
    assert choose_adapter("dpo", {}) == "dpo"


def test_best_without_a_validation_split_is_a_params_error() -> None:
    with pytest.raises(ParamsError, match="no validation split"):
        choose_adapter("best", {})
