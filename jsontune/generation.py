"""Batched greedy generation with the model's own chat template, free or schema-constrained.

Prompts are sorted by length before batching so a batch holds similar lengths (less padding work),
padded so every row's answer starts at the same position, and generation stops at the end-of-turn
token. The prefix every prompt shares (chat template header, system prompt, user turn header: about 30
of the ticket task's 75 prompt tokens) is run through the model once per call and its key/value cache
copied into every batch; each row is laid out as ``[prefix][padding][own tokens]`` with the padding
masked, which gives the same positions and attention as left padding.

``decoding="constrained"`` masks every token that would leave the task's JSON Schema, using xgrammar's
JSON-schema grammar (compiled once per schema and tokenizer, compact separators exactly like the
training targets) through a fresh ``xgrammar.contrib.hf.LogitsProcessor`` per ``generate`` call. Once the
object is complete only end-of-turn is allowed, so a constrained answer stops as soon as it is done.
A grammar cannot bound how long a string runs, so a budget guard closes an open string when the
tokens left are only just enough for the rest of the object; without it a model that loops inside a
string would hit ``max_new_tokens`` and return a truncated, invalid object. The guard reserves no step
for end-of-turn: an object completed by the last allowed token is a whole answer, exactly as free
decoding would return it (reserving one cut 19-character order ids one digit short at 48 tokens).
"""

from __future__ import annotations

import copy
import json
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from tqdm.auto import tqdm

Decoding = Literal["free", "constrained"]
DECODING_MODES: tuple[str, ...] = ("free", "constrained")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


class ConstrainedDecodingError(RuntimeError):
    """Constrained decoding was asked for but cannot run (xgrammar missing, no schema)."""


@dataclass
class Generation:
    """Answers in input order plus what it cost; ``token_ids`` exclude the prompt and end-of-turn."""

    texts: list[str]
    token_ids: list[list[int]]
    finished: list[bool]
    """True when the answer ended with end-of-turn (not cut by ``max_new_tokens``)."""
    new_tokens: int
    seconds: float
    generated_rows: int
    """Rows actually decoded; constrained decoding reuses free answers the grammar accepts."""

    @property
    def tokens_per_second(self) -> float | None:
        return round(self.new_tokens / self.seconds, 2) if self.seconds > 0 and self.new_tokens else None

    def speed(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows_generated": self.generated_rows, "new_tokens": self.new_tokens,
                               "seconds": round(self.seconds, 2)}
        if self.tokens_per_second is not None:
            out["tokens_per_second"] = self.tokens_per_second
        return out


def _xgrammar() -> Any:
    try:
        import xgrammar
        import xgrammar.contrib.hf  # noqa: F401  (the transformers logits processor)
    except ImportError as exc:
        raise ConstrainedDecodingError(
            "constrained decoding needs xgrammar, which is not installed: run `make setup` or "
            f"`pip install --no-deps xgrammar==0.2.8 apache-tvm-ffi` ({exc})") from None
    return xgrammar


class _StringState:
    """Whether a row's answer is inside a JSON string, from the bytes of the tokens generated so far."""

    __slots__ = ("in_string", "escaped")

    def __init__(self) -> None:
        self.in_string = self.escaped = False

    def feed(self, data: bytes) -> None:
        for b in data:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif b == _BACKSLASH:
                    self.escaped = True
                elif b == _QUOTE:
                    self.in_string = False
            elif b == _QUOTE:
                self.in_string = True


class JsonGrammar:
    """The compiled JSON-schema grammar for one tokenizer, plus what the budget guard needs."""

    def __init__(self, tokenizer: Any, schema: dict[str, Any], vocab_size: int) -> None:
        xgr = _xgrammar()
        # End-of-turn is the only stop token: it is also the one generate() stops on.
        self.eos_id = tokenizer.eos_token_id
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=[self.eos_id])
        # Separators as json.dumps writes them, which is how the training targets are serialised.
        self.compiled = xgr.GrammarCompiler(info).compile_json_schema(
            json.dumps(schema), any_whitespace=False, separators=(", ", ": "))
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.decoded = [bytes(b) for b in info.decoded_vocab]
        self.decoded += [b""] * (vocab_size - len(self.decoded))
        quote = tokenizer.convert_tokens_to_ids('"')
        self.quote_id = quote if isinstance(quote, int) and self.decoded[quote] == b'"' else None

    def matcher(self) -> Any:
        return _xgrammar().GrammarMatcher(self.compiled)

    def closing_tokens(self, matcher: Any) -> list[int] | None:
        """The shortest token sequence that closes the open string and writes the forced rest of the
        object (e.g. the single token ``"}``); None when the string cannot be closed yet."""
        if self.quote_id is None:
            return None
        fork = matcher.fork()
        if not fork.accept_token(self.quote_id):
            return None
        rest = fork.find_jump_forward_string()
        ids = self.tokenizer('"' + rest, add_special_tokens=False)["input_ids"]
        check = matcher.fork()
        if not ids or not all(check.accept_token(t) for t in ids):
            ids = [self.quote_id, *(self.tokenizer(rest, add_special_tokens=False)["input_ids"] if rest else [])]
        return ids

    def must_close(self, matcher: Any, state: _StringState, remaining: int) -> int | None:
        """The token to force now, or None: a string is closed only when one more free token would leave
        too few steps for the closing tokens (an exact count, so answers that fit the budget are never cut
        short)."""
        if not state.in_string:
            return None
        ids = self.closing_tokens(matcher)
        if ids is None or remaining > len(ids):
            return None
        return ids[0]

    def accepts(self, ids: Sequence[int], finished: bool, max_new_tokens: int) -> bool:
        """True when constrained greedy decoding would pick exactly these tokens: every one is allowed
        by the grammar and by the budget guard, and the object is complete, ended by end-of-turn or by the
        last token the budget allows."""
        if not finished and len(ids) != max_new_tokens:
            return False
        m, state = self.matcher(), _StringState()
        for step, tid in enumerate(ids):
            forced = self.must_close(m, state, max_new_tokens - step)
            if forced is not None and tid != forced:
                return False
            if not m.accept_token(tid):
                return False
            state.feed(self.decoded[tid])
        return m.accept_token(self.eos_id)


_GRAMMARS: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], JsonGrammar]] = weakref.WeakKeyDictionary()


def json_grammar(tokenizer: Any, schema: dict[str, Any], vocab_size: int) -> JsonGrammar:
    """Compiled once per (tokenizer, schema, vocabulary size) and reused by every ``generate`` call."""
    per_tok = _GRAMMARS.setdefault(tokenizer, {})
    key = (json.dumps(schema, sort_keys=True), vocab_size)
    if key not in per_tok:
        per_tok[key] = JsonGrammar(tokenizer, schema, vocab_size)
    return per_tok[key]


def _budgeted_processor(grammar: JsonGrammar, max_new_tokens: int) -> Any:
    """xgrammar's processor (one per generate call) followed by the string budget guard."""
    from transformers import LogitsProcessor

    inner = _xgrammar().contrib.hf.LogitsProcessor(grammar.compiled)

    class BudgetedGrammar(LogitsProcessor):
        def __init__(self) -> None:
            self.start: int | None = None
            self.states: list[_StringState] = []

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            scores = inner(input_ids, scores)
            if self.start is None:
                self.start = input_ids.shape[1]
                self.states = [_StringState() for _ in range(input_ids.shape[0])]
            else:
                for row, state in enumerate(self.states):
                    if not inner.matchers[row].is_terminated():
                        state.feed(grammar.decoded[int(input_ids[row, -1])])
            remaining = max_new_tokens - (input_ids.shape[1] - self.start)
            for row, state in enumerate(self.states):
                m = inner.matchers[row]
                forced = None if m.is_terminated() else grammar.must_close(m, state, remaining)
                if forced is not None and torch.isfinite(scores[row, forced]):
                    keep = scores[row, forced].clone()
                    scores[row, :] = float("-inf")
                    scores[row, forced] = keep
            return scores

    return BudgetedGrammar()


MIN_SHARED_PREFIX = 8
"""Shorter common prefixes are not worth a separate forward pass."""


def shared_prefix_length(encoded: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least one token of its own to feed generate()."""
    if len(encoded) < 2:
        return 0
    limit = min(len(e) for e in encoded) - 1
    first = encoded[0]
    n = 0
    while n < limit and all(e[n] == first[n] for e in encoded):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


def _prefix_cache(model: Any, prefix: Sequence[int], device: Any) -> Any:
    with torch.no_grad():
        return model(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True).past_key_values


def _batch_cache(prefix_cache: Any, rows: int) -> Any:
    """A private copy for one generate() call (generate appends to the cache it is given)."""
    cache = copy.deepcopy(prefix_cache)
    cache.batch_repeat_interleave(rows)
    return cache


def render_prompts(tokenizer: Any, conversations: Sequence[list[dict[str, str]]]) -> list[str]:
    return [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]


def _vocab_size(model: Any) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def generate(model: Any, tokenizer: Any, conversations: Sequence[list[dict[str, str]]], *,
             batch_size: int = 16, max_new_tokens: int = 48, do_sample: bool = False,
             temperature: float = 1.0, seed: int | None = None, desc: str = "generating",
             decoding: Decoding = "free", schema: dict[str, Any] | None = None,
             share_prefix: bool = True) -> list[str]:
    """One answer per conversation, in input order; the decoded text excludes the prompt and eos."""
    return run_generation(model, tokenizer, conversations, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          do_sample=do_sample, temperature=temperature, seed=seed, desc=desc, decoding=decoding,
                          schema=schema, share_prefix=share_prefix).texts


def run_generation(model: Any, tokenizer: Any, conversations: Sequence[list[dict[str, str]]], *,
                   batch_size: int = 16, max_new_tokens: int = 48, do_sample: bool = False,
                   temperature: float = 1.0, seed: int | None = None, desc: str = "generating",
                   decoding: Decoding = "free", schema: dict[str, Any] | None = None,
                   reuse: Generation | None = None, share_prefix: bool = True) -> Generation:
    """Like :func:`generate`, with token ids, timing and (constrained only) reuse of a free run.

    ``share_prefix=False`` pads on the left and runs every prompt in full (the reference the
    benchmark compares against).

    ``reuse`` is a greedy free-decoding run on the same conversations: a row whose free answer the
    grammar and the budget guard accept token by token is exactly what constrained greedy decoding
    would produce (the mask never removed the chosen token), so only the other rows are decoded again.
    """
    if decoding not in DECODING_MODES:
        raise ValueError(f"decoding must be one of {DECODING_MODES}, got {decoding!r}")
    grammar = None
    if decoding == "constrained":
        if schema is None:
            raise ConstrainedDecodingError("constrained decoding needs the task's JSON Schema")
        grammar = json_grammar(tokenizer, schema, _vocab_size(model))
    n = len(conversations)
    result = Generation([""] * n, [[] for _ in range(n)], [False] * n, 0, 0.0, 0)
    todo = list(range(n))
    if reuse is not None:
        if grammar is None or do_sample:
            raise ValueError("only greedy constrained decoding can reuse a free run")
        if len(reuse.texts) != n:
            raise ValueError(f"reuse has {len(reuse.texts)} answers for {n} conversations")
        todo = []
        for i in range(n):
            if grammar.accepts(reuse.token_ids[i], reuse.finished[i], max_new_tokens):
                result.texts[i], result.token_ids[i], result.finished[i] = (
                    reuse.texts[i], reuse.token_ids[i], reuse.finished[i])
            else:
                todo.append(i)
    if not todo:
        return result
    texts = render_prompts(tokenizer, [conversations[i] for i in todo])
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(todo)), key=lambda j: len(encoded[j]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    device = next(model.parameters()).device
    generator_seed = seed
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    started = time.perf_counter()
    shared = shared_prefix_length(encoded) if share_prefix else 0
    prefix_cache = _prefix_cache(model, encoded[0][:shared], device) if shared else None
    for batch in tqdm(batches, desc=desc, unit="batch", disable=len(batches) < 2):
        width = max(len(encoded[j]) for j in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, j in enumerate(batch):
            seq = encoded[j]
            ids[row, :shared] = torch.tensor(seq[:shared], dtype=torch.long)
            mask[row, :shared] = 1
            own = seq[shared:]
            ids[row, width - len(own):] = torch.tensor(own)
            mask[row, width - len(own):] = 1
        if generator_seed is not None:
            torch.manual_seed(generator_seed)
            generator_seed += 1
        kwargs: dict[str, Any] = {"do_sample": do_sample}
        if do_sample:
            kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if grammar is not None:
            kwargs["logits_processor"] = [_budgeted_processor(grammar, max_new_tokens)]
        if prefix_cache is not None:
            kwargs["past_key_values"] = _batch_cache(prefix_cache, len(batch))
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                             max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=pad_id, **kwargs)
        for row, j in enumerate(batch):
            new = out[row, width:].tolist()
            finished = eos in new
            new = new[:new.index(eos)] if finished else new
            i = todo[j]
            result.token_ids[i], result.finished[i] = new, finished
            result.texts[i] = tokenizer.decode(new, skip_special_tokens=True)
            result.new_tokens += len(new) + finished
    result.seconds = time.perf_counter() - started
    result.generated_rows = len(todo)
    return result
