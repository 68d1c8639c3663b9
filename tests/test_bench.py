"""The bench scripts' pure helpers: FLOP counting, results file and markdown, pipeline-bench parsing.
No timing is tested here (speed is measured by ``make bench``, never asserted)."""

from __future__ import annotations

import json

import pytest

from bench import common
from bench.bench_pipeline import ran_stages, set_param, stage_names


def test_lora_flops_by_hand() -> None:
    shape = common.ModelShape(n_layers=1, d_model=2, d_attn=2, vocab=3, linear_params=10, lora_params=1)
    f = common.lora_train_flops(shape, seq_lens=[2], answer_tokens=[1])
    # forward: 2*10*2 linears + 2*1*2 lora + attention 4*1*2*(1+2) + head 2*2*3*1
    assert f["forward"] == 40 + 4 + 24 + 12
    # backward: input grads 2*10*2 + lora 4*1*2 + attention 2*24 + head input grad 12
    assert f["backward"] == 40 + 8 + 48 + 12
    assert f["total"] == f["forward"] + f["backward"]
    assert (f["tokens"], f["answer_tokens"]) == (2, 1)


def test_lora_flops_frozen_base_costs_4n_per_token_not_6n() -> None:
    shape = common.ModelShape(n_layers=1, d_model=1, d_attn=0, vocab=0, linear_params=1_000_000, lora_params=0)
    f = common.lora_train_flops(shape, seq_lens=[5, 3], answer_tokens=[0, 0])
    assert f["total"] == 4 * 1_000_000 * 8


def test_lora_flops_executed_counts_a_shared_prefix_once() -> None:
    shape = common.ModelShape(n_layers=1, d_model=2, d_attn=2, vocab=3, linear_params=10, lora_params=1)
    f = common.lora_train_flops(shape, seq_lens=[4, 3, 3], answer_tokens=[1, 1, 1], shared_prefix=2)
    # 10 tokens of which 2 * 2 are repeats of the prefix; attention pairs 10 + 6 + 6 minus 2 * 3 prefix pairs
    once = common.lora_train_flops(shape, seq_lens=[6], answer_tokens=[3])
    linear_and_lora = (4 * 10 + 6 * 1) * 6
    attention = 3 * 4 * 2 * (22 - 6)
    head = 4 * 2 * 3 * 3
    assert f["executed"] == linear_and_lora + attention + head
    assert f["total"] == common.lora_train_flops(shape, [4, 3, 3], [1, 1, 1])["total"] > f["executed"]
    assert once["executed"] == once["total"]
    assert common.lora_train_flops(shape, [4], [1], shared_prefix=2)["executed"] == \
        common.lora_train_flops(shape, [4], [1])["total"]


def test_lora_flops_rejects_mismatched_rows() -> None:
    shape = common.ModelShape(1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="one entry per row"):
        common.lora_train_flops(shape, [3, 4], [1])


def test_model_shape_counts_decoder_linears_and_lora(tiny_model) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    shape = common.model_shape(peft_model)
    # hidden 32, intermediate 64, 4 heads of 8, 2 kv heads: q,o 32x32; k,v 32x16; gate,up,down 32x64
    per_layer = 2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64
    assert shape.linear_params == 2 * per_layer
    assert shape.lora_params == 2 * (2 * 32 + 2 * 32)
    assert (shape.n_layers, shape.d_model, shape.d_attn) == (2, 32, 32)
    assert shape.vocab == model.config.vocab_size


def test_update_results_keeps_other_figures_and_writes_markdown(tmp_path) -> None:
    path = tmp_path / "results.json"
    machine = {"nproc": 2, "cpu_model": "X", "bench_threads": 2, "loadavg_1m": 1.0, "timestamp": "t"}
    common.update_results("a", {"command": "python a.py", "machine": machine,
                                "rows": [{"label": "A/s", "ours": 10.0, "reference": 4.0, "ratio": 2.5, "unit": "x/s"}],
                                "targets": [{"target": "A ≥ 2×", "measured": 2.5, "met": True}]}, path)
    common.update_results("b", {"command": "python b.py", "machine": machine,
                                "rows": [{"label": "B/s", "ours": 1.0, "reference": 2.0, "ratio": 0.5, "unit": "y"}],
                                "targets": [{"target": "B ≥ 1×", "measured": 0.5, "met": False}]}, path)
    common.update_results("a", {"command": "python a.py --n 2", "machine": machine, "rows": []}, path)
    data = json.loads(path.read_text())
    assert list(data["figures"]) == ["a", "b"]
    assert data["figures"]["a"]["command"] == "python a.py --n 2"
    md = (tmp_path / "results.md").read_text()
    assert "| B/s | 1 | 2 | 0.5 | y |" in md
    assert "A/s" not in md
    assert "| B ≥ 1× | 0.5 | **not met** |" in md
    assert "`python b.py`" in md


def test_ratio_handles_missing_values() -> None:
    assert common.ratio(3.0, 2.0) == 1.5
    assert common.ratio(None, 2.0) is None
    assert common.ratio(1.0, 0.0) is None


def test_ran_stages_parses_dvc_output() -> None:
    out = ("Stage 'dataset' didn't change, skipping\nRunning stage 'dpo':\n> python stages/dpo.py\n"
           "Running stage 'eval':\n")
    assert ran_stages(out) == ["dpo", "eval"]
    assert ran_stages("Data and pipelines are up to date.\n") == []


def test_set_param_parses_yaml_values_and_rejects_unknown_keys() -> None:
    params = {"dpo": {"beta": 0.25}, "model": {"name": "x"}}
    set_param(params, "dpo.beta", "0.3")
    set_param(params, "model.name", "/tmp/m")
    assert params == {"dpo": {"beta": 0.3}, "model": {"name": "/tmp/m"}}
    with pytest.raises(KeyError, match="dpo.betta"):
        set_param(params, "dpo.betta", "1")
    with pytest.raises(KeyError, match="nope"):
        set_param(params, "nope.x", "1")


def test_stage_names_follow_dvc_yaml_order() -> None:
    assert stage_names(common.REPO / "dvc.yaml") == ["dataset", "baseline", "sft", "dpo", "eval", "merge", "report"]


def test_batch_stats_padded_and_padding_free() -> None:
    import torch

    padded = {"input_ids": torch.zeros(2, 5, dtype=torch.long),
              "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
              "labels": torch.tensor([[-100, -100, 7, 8, 9], [-100, 5, 6, -100, -100]])}
    assert common.batch_stats(padded) == {"seq_lens": [5, 3], "padded": [2, 5], "answer_tokens": [3, 2],
                                          "shared_prefix": 0}
    # the same two rows concatenated padding-free: boundaries at 0, 5, 8
    free = {"input_ids": torch.zeros(1, 8, dtype=torch.long),
            "labels": torch.tensor([[-100, -100, 7, 8, 9, -100, 5, 6]]),
            "cu_seq_lens_q": torch.tensor([0, 5, 8])}
    assert common.batch_stats(free) == {"seq_lens": [5, 3], "padded": [1, 8], "answer_tokens": [3, 2],
                                        "shared_prefix": 0}


def test_sft_bench_reports_the_fastest_of_the_interleaved_runs() -> None:
    from bench.bench_sft import best_run

    best = best_run([{"tokens_per_s": 172.0, "steps": 6}, {"tokens_per_s": 230.0, "steps": 6}])
    assert best == {"tokens_per_s": 230.0, "steps": 6, "runs_tokens_per_s": [172.0, 230.0]}


def test_unseen_ab_keeps_rows_no_revision_trained_on() -> None:
    from bench.unseen_ab import unseen_rows

    def row(group: str, text: str) -> dict:
        return {"group": group, "text": text}

    old = {"train": [row("A/0", "a")], "val": [row("B/0", "b")], "test": [row("C/0", "c"), row("D/0", "d")]}
    new = {"train": [row("C/0", "c2")], "val": [], "test": [row("A/0", "a1"), row("B/0", "b"), row("E/0", "e")]}
    assert [r["text"] for r in unseen_rows([old, new])] == ["d", "b", "e"]


def test_unseen_ab_scores_old_and_new_phrasings_separately() -> None:
    from bench.unseen_ab import subset_exact_match

    rows = [{"group": g} for g in ("A/0", "A/0", "A/9", "B/1")]
    preds = [{"exact_match": e} for e in (True, False, True, True)]
    got = subset_exact_match(rows, preds, {"old": {"A/0", "B/1"}, "new": {"A/9"}, "none": set()})
    assert got == {"old": round(2 / 3, 4), "new": 1.0, "none": None}


def test_constrained_cost_verdict_only_for_answers_of_equal_length() -> None:
    from bench.bench_eval import constrained_target

    def run(tokens: int, per_s: float) -> dict:
        return {"generated_tokens": tokens, "examples_per_s": per_s}

    # a fine-tuned model: same answers, 4 % slower -> met; 20 % slower -> not met
    assert constrained_target(run(960, 3.5), run(960, 3.36))["met"] is True
    assert constrained_target(run(960, 3.5), run(950, 2.8))["met"] is False
    # the base model: prose to max_new_tokens vs short JSON is different work, so no verdict either way
    base = constrained_target(run(1536, 2.11), run(990, 2.2))
    assert base["met"] is None and base["measured"] == common.ratio(2.2, 2.11)
