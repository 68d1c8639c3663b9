"""Batched greedy generation with the model's own chat template.

Prompts are sorted by length before batching so a batch holds similar lengths (less padding work),
padded on the left so every row's answer starts at the same position, and generation stops at the
end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm


def render_prompts(tokenizer: Any, conversations: Sequence[list[dict[str, str]]]) -> list[str]:
    return [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]


@torch.inference_mode()
def generate(model: Any, tokenizer: Any, conversations: Sequence[list[dict[str, str]]], *,
             batch_size: int = 16, max_new_tokens: int = 48, do_sample: bool = False,
             temperature: float = 1.0, seed: int | None = None, desc: str = "generating") -> list[str]:
    """One answer per conversation, in input order; the decoded text excludes the prompt and eos."""
    texts = render_prompts(tokenizer, conversations)
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    outputs: list[str] = [""] * len(texts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    generator_seed = seed
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc=desc, unit="batch", disable=len(batches) < 2):
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = encoded[i]
            ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
        if generator_seed is not None:
            torch.manual_seed(generator_seed)
            generator_seed += 1
        kwargs: dict[str, Any] = {"do_sample": do_sample}
        if do_sample:
            kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                             max_new_tokens=max_new_tokens, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=pad_id, **kwargs)
        for row, i in enumerate(batch):
            outputs[i] = tokenizer.decode(out[row, width:], skip_special_tokens=True)
    return outputs
