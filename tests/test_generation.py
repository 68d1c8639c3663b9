"""Constrained decoding on the tiny random model: a model that cannot write JSON still only gives valid
objects, free answers the grammar accepts are reused exactly, and a missing xgrammar is an error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jsontune.data import prompt_messages
from jsontune.generation import (
    MIN_SHARED_PREFIX,
    ConstrainedDecodingError,
    JsonGrammar,
    json_grammar,
    run_generation,
    shared_prefix_length,
)
from jsontune.metrics import score_output

MESSAGES = [f"where is my order A{i}2345? {'please ' * i}thanks" for i in range(6)]
GOLD = {"intent": "ORDER_STATUS", "urgency": "MEDIUM", "order_id": None}


@pytest.fixture(scope="module")
def tiny(tiny_model: Path) -> tuple:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def runs(tiny: tuple, schema: dict) -> tuple:
    """One free and one constrained run of the tiny model, shared by the tests below."""
    model, tok = tiny
    free = run_generation(model, tok, _convs(), batch_size=6, max_new_tokens=48)
    constrained = run_generation(model, tok, _convs(), batch_size=6, max_new_tokens=48, decoding="constrained",
                                 schema=schema)
    return free, constrained


def _convs() -> list:
    return [prompt_messages(m, "Extract the ticket as JSON.") for m in MESSAGES]


def _valid(texts: list[str], schema: dict) -> list[bool]:
    return [score_output(t, GOLD, schema).schema_valid for t in texts]


def test_constrained_answers_are_all_schema_valid_and_end_the_turn(runs: tuple, schema: dict) -> None:
    free, constrained = runs
    assert not any(_valid(free.texts, schema))
    assert all(_valid(constrained.texts, schema))
    # Every answer ends the turn, unless the guard closed its object with the last token the budget allows.
    assert all(f or len(t) == 48 for t, f in zip(constrained.token_ids, constrained.finished, strict=True))
    assert constrained.generated_rows == len(MESSAGES) and constrained.tokens_per_second > 0
    # Training targets are json.dumps output: the grammar must impose exactly those separators.
    assert all(json.dumps(json.loads(t)) == t for t in constrained.texts)


def test_without_the_budget_guard_a_looping_string_is_cut_off(tiny: tuple, schema: dict,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The random model repeats a token inside the order id; only the guard closes it in time."""
    model, tok = tiny
    monkeypatch.setattr(JsonGrammar, "must_close", lambda *args: None)
    unguarded = run_generation(model, tok, _convs(), batch_size=6, max_new_tokens=48, decoding="constrained",
                               schema=schema)
    assert not all(_valid(unguarded.texts, schema))


def test_grammar_accepts_exactly_what_constrained_decoding_could_emit(tiny: tuple, runs: tuple, schema: dict) -> None:
    model, tok = tiny
    grammar = json_grammar(tok, schema, model.config.vocab_size)
    assert json_grammar(tok, schema, model.config.vocab_size) is grammar  # compiled once

    def ids(text: str) -> list[int]:
        return tok(text, add_special_tokens=False)["input_ids"]

    good = json.dumps({"intent": "REFUND", "urgency": "LOW", "order_id": "A12345"})
    assert grammar.accepts(ids(good), True, 48)
    assert not grammar.accepts(ids(good), False, 48)  # cut by max_new_tokens: never reused
    assert not grammar.accepts(ids(good.replace(", ", ",")), True, 48)
    assert not grammar.accepts(ids("Sure! " + good), True, 48)
    assert not grammar.accepts(ids(good.replace('"LOW"', '"low"')), True, 48)
    assert not grammar.accepts(ids(good), True, len(ids(good)) - 3)  # the guard would have closed the id earlier
    run = runs[1]
    assert all(grammar.accepts(t, f, 48) for t, f in zip(run.token_ids, run.finished, strict=True))


def test_reuse_keeps_accepted_free_answers_and_decodes_the_rest(tiny: tuple, runs: tuple, schema: dict) -> None:
    model, tok = tiny
    free, constrained = runs
    # A run the grammar accepts everywhere is kept as it is, with nothing decoded.
    again = run_generation(model, tok, _convs(), batch_size=6, max_new_tokens=48, decoding="constrained",
                           schema=schema, reuse=constrained)
    assert again.generated_rows == 0 and again.texts == constrained.texts and again.new_tokens == 0
    mixed = run_generation(model, tok, _convs(), batch_size=6, max_new_tokens=48, decoding="constrained",
                           schema=schema, reuse=free)
    assert mixed.generated_rows == len(MESSAGES) and all(_valid(mixed.texts, schema))
    with pytest.raises(ValueError, match="greedy"):
        run_generation(model, tok, _convs(), decoding="free", reuse=free)


def test_missing_xgrammar_is_an_error_not_a_fallback(tiny: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    model, tok = tiny
    monkeypatch.setitem(sys.modules, "xgrammar", None)
    fresh = {"type": "object", "properties": {"x": {"type": "string", "enum": ["a"]}}}
    with pytest.raises(ConstrainedDecodingError, match="xgrammar"):
        run_generation(model, tok, _convs()[:1], decoding="constrained", schema=fresh)
    with pytest.raises(ConstrainedDecodingError, match="JSON Schema"):
        run_generation(model, tok, _convs()[:1], decoding="constrained")


def test_the_budget_guard_never_cuts_an_answer_that_fits(tiny: tuple, schema: dict) -> None:
    """A long order id whose closing ``"}`` token is the last one the budget allows (no room left for
    end-of-turn) is what constrained greedy decoding writes too, as free decoding does; one token less and
    the guard must step in."""
    _, tok = tiny
    grammar = json_grammar(tok, schema, len(tok))
    answer = '{"intent": "DELIVERY_ISSUE", "urgency": "MEDIUM", "order_id": "480-1363729-7346891"}'
    ids = tok(answer, add_special_tokens=False)["input_ids"]
    assert grammar.accepts(ids, True, len(ids) + 1)
    assert grammar.accepts(ids, False, len(ids))
    assert not grammar.accepts(ids, False, len(ids) - 1)
    assert not grammar.accepts(ids[:-1], False, len(ids) - 1)  # cut inside the string: never reused


def test_shared_prefix_length_leaves_every_prompt_a_token_of_its_own() -> None:
    head = list(range(100, 110))
    assert shared_prefix_length([head + [1, 2], head + [1, 3], head + [4]]) == 10
    assert shared_prefix_length([head, head + [5]]) == 9  # the shorter prompt keeps its last token
    assert shared_prefix_length([head + [1]]) == 0  # one prompt: nothing to share
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5]]) == 0  # below MIN_SHARED_PREFIX


def test_the_shared_prefix_cache_gives_the_answers_of_left_padding(tiny: tuple, schema: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Prompts of different lengths in batches of 4 (padding in every batch): the ``[prefix][pad][own]``
    layout with the prefix computed once must decode exactly what full left-padded prompts decode."""
    import jsontune.generation as generation

    model, tok = tiny
    convs = _convs() + [prompt_messages("hi", "Extract the ticket as JSON.")]
    calls: list[int] = []
    real = generation._prefix_cache
    monkeypatch.setattr(generation, "_prefix_cache", lambda m, p, d: calls.append(len(p)) or real(m, p, d))
    for decoding in ("free", "constrained"):
        kwargs = {"batch_size": 4, "max_new_tokens": 24, "decoding": decoding, "schema": schema}
        shared = run_generation(model, tok, convs, **kwargs)
        full = run_generation(model, tok, convs, share_prefix=False, **kwargs)
        assert shared.token_ids == full.token_ids and shared.finished == full.finished
    assert len(calls) == 2 and calls[0] >= MIN_SHARED_PREFIX  # once per call, not once per batch
