"""Shared helpers of the bench scripts: machine info, the matmul peak, FLOP counting, running one
measurement in a fresh subprocess, and the results file (``bench/results.json`` + ``bench/results.md``).

Every figure script runs each variant it compares in its own subprocess (fresh memory, its own peak
RSS, no monkey-patch leaking from one variant into the other) with ``BENCH_THREADS`` torch/OpenMP
threads (default 2, the machine's real configuration), one after the other in the same run, so the
ratios are measured side by side.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_JSON = REPO / "bench" / "results.json"
RESULTS_MD = REPO / "bench" / "results.md"
MARK = "BENCH_JSON "
NOISE_NOTE = ("these machines can be shared with other jobs (each figure records the load average when it "
              "started), so absolute times vary from run to run; the ratios (measured side by side in one run) "
              "are what count")


def threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "2"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    import torch

    return {"nproc": os.cpu_count(), "cpu_model": cpu_model(), "bench_threads": threads(),
            "torch_threads_default": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "loadavg_1m": round(os.getloadavg()[0], 2),
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "note": NOISE_NOTE}


def set_threads() -> None:
    """Inside a measurement subprocess: the configured number of torch threads."""
    import torch

    torch.set_num_threads(threads())


def matmul_peak_gflops(n: int = 2048, seconds: float = 3.0, dtype: str = "float32") -> float:
    """Best-of-loop GFLOP/s of an n x n matmul (2 n^3 FLOPs each) in the current thread setting."""
    import torch

    a = torch.randn(n, n, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, dtype=getattr(torch, dtype))
    a @ b  # warm-up
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- FLOP counting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """What the FLOP count needs from a decoder-only model with a (frozen) LoRA on some linears."""

    n_layers: int
    d_model: int
    d_attn: int
    """num_attention_heads * head_dim (width of Q and of the attention output)."""
    vocab: int
    linear_params: int
    """Weights of every linear inside the decoder layers (q, k, v, o, gate, up, down), frozen."""
    lora_params: int
    """Trainable LoRA weights (A and B); each is used once per token, like a linear weight."""


def lora_train_flops(shape: ModelShape, seq_lens: Sequence[int], answer_tokens: Sequence[int],
                     shared_prefix: int = 0) -> dict[str, float]:
    """Model FLOPs of one LoRA training step on these rows (real tokens only; padding is not work).

    Per token, a linear with W weights costs 2W forward. Backward needs the gradient w.r.t. the
    input of every linear (2W: the frozen base must pass gradients down to earlier LoRA weights) but
    a weight gradient (another 2W) only for trainable weights, i.e. the LoRA A/B matrices. Causal
    attention costs 2 * 2 * d_attn per (query, key) pair with key <= query (QK^T and PV) forward
    and twice that backward. The LM head (d_model x vocab, tied and frozen) is counted only at the
    answer positions that carry the loss: 2 d V forward, 2 d V backward (input gradient only).
    Activation-checkpointing recomputation and LM-head work on masked positions are not useful
    work and not counted, so two setups doing the same rows get the same count. Ignored: norms,
    activations, softmax, the optimizer (all O(params) or O(tokens * d), < 1 % here) and the unneeded
    input gradient of the first layer.

    ``executed`` is what the machine computes when the first ``shared_prefix`` tokens of every row
    are identical and run once per batch (``jsontune.training``): those tokens and their attention
    pairs count once instead of once per row. ``total`` (the work the rows represent) is the same.
    """
    if len(seq_lens) != len(answer_tokens):
        raise ValueError("seq_lens and answer_tokens must have one entry per row")
    answers = sum(answer_tokens)
    head = 2 * shape.d_model * shape.vocab * answers

    def cost(tokens: int, pairs: int) -> tuple[int, int]:
        attn_fwd = 4 * shape.n_layers * shape.d_attn * pairs
        forward = 2 * shape.linear_params * tokens + 2 * shape.lora_params * tokens + attn_fwd + head
        backward = 2 * shape.linear_params * tokens + 4 * shape.lora_params * tokens + 2 * attn_fwd + head
        return forward, backward

    tokens, pairs = sum(seq_lens), sum(n * (n + 1) // 2 for n in seq_lens)
    forward, backward = cost(tokens, pairs)
    p, repeats = shared_prefix, len(seq_lens) - 1  # one row computes the prefix, the others reuse it
    run = cost(tokens - repeats * p, pairs - repeats * (p * (p + 1) // 2))
    return {"forward": float(forward), "backward": float(backward), "total": float(forward + backward),
            "executed": float(sum(run)), "tokens": tokens, "answer_tokens": answers}


def model_shape(peft_model: Any) -> ModelShape:
    """Read the shape of a PEFT-wrapped (or plain) causal LM."""
    import torch

    base = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else peft_model
    cfg = base.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    linear = lora = 0
    for name, module in base.model.layers.named_modules():
        if isinstance(module, torch.nn.Linear) and "lora_" not in name:
            linear += module.weight.numel()
    for name, param in base.named_parameters():
        if "lora_" in name:
            lora += param.numel()
    return ModelShape(n_layers=cfg.num_hidden_layers, d_model=cfg.hidden_size,
                      d_attn=cfg.num_attention_heads * head_dim, vocab=cfg.vocab_size,
                      linear_params=linear, lora_params=lora)


# ---- timing steps inside a HF Trainer ------------------------------------------------------------


def step_timer() -> Any:
    """A TrainerCallback recording the wall time of each optimizer step."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.begin: list[float] = []
            self.end: list[float] = []

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.begin.append(time.perf_counter())

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.end.append(time.perf_counter())

        def durations(self) -> list[float]:
            """Step i from the end of step i-1 (the first from its own begin): includes data loading."""
            starts = self.begin[:1] + self.end[:-1]
            return [e - s for s, e in zip(starts, self.end, strict=True)]

    return StepTimer()


def batch_stats(batch: dict[str, Any]) -> dict[str, Any]:
    """Real length and loss-token count of every row of a collated batch, and the prompt prefix the
    rows share (``shared_prefix``, 0 when none); a padding-free batch (one row of concatenated
    sequences with ``cu_seq_lens_q`` boundaries) is split back into its rows."""
    from jsontune.training import shared_prompt_prefix

    labels = batch["labels"]
    if "cu_seq_lens_q" in batch:
        bounds = batch["cu_seq_lens_q"].tolist()
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        return {"seq_lens": [b - a for a, b in spans], "padded": list(batch["input_ids"].shape),
                "answer_tokens": [int((labels[0, a + 1:b] != -100).sum()) for a, b in spans], "shared_prefix": 0}
    mask = batch.get("attention_mask")
    lens = mask.sum(1).tolist() if mask is not None else [labels.shape[1]] * labels.shape[0]
    return {"seq_lens": [int(n) for n in lens], "padded": list(batch["input_ids"].shape),
            "answer_tokens": [int(n) for n in (labels[:, 1:] != -100).sum(1).tolist()],
            "shared_prefix": shared_prompt_prefix(batch["input_ids"], mask, labels)}


def record_batches(trainer: Any) -> list[dict[str, list[int]]]:
    """Wrap the trainer's collator so every batch's real lengths and loss-token counts are recorded,
    in the order the dataloader builds them (batch i = step i without gradient accumulation)."""
    seen: list[dict[str, list[int]]] = []
    collate = trainer.data_collator

    def recording(features: Any) -> Any:
        batch = collate(features)
        seen.append(batch_stats(batch))
        return batch

    trainer.data_collator = recording
    return seen


# ---- subprocesses and results ----------------------------------------------------------------------


def emit(result: dict[str, Any]) -> None:
    """Last line of a measurement subprocess: its result as JSON (read back by :func:`spawn`)."""
    result.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(MARK + json.dumps(result), flush=True)


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    n = str(threads())
    env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, BENCH_THREADS=n, TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", DVC_NO_ANALYTICS="1", PYTHONPATH=str(REPO))
    return env


def spawn(script: str | Path, *args: str) -> dict[str, Any]:
    """Run ``python script args`` as a measurement subprocess and return what it emitted."""
    cmd = [sys.executable, str(script), *args]
    print("$", shlex.join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=REPO, env=bench_env(), stdout=subprocess.PIPE, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{shlex.join(cmd)} failed (exit {proc.returncode}); output tail:\n{proc.stdout[-2000:]}")
    return json.loads(lines[-1][len(MARK):])


def command_line() -> str:
    """How the running figure script was invoked, relative to the repo (for the results table)."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def update_results(figure: str, record: dict[str, Any], path: Path = RESULTS_JSON) -> dict[str, Any]:
    """Replace one figure's record in the results file (other figures are kept) and rewrite the table;
    locked, so figure scripts may run concurrently."""
    import fcntl

    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        data.setdefault("figures", {})[figure] = record
        path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        path.with_suffix(".md").write_text(render_markdown(data), encoding="utf-8")
    return data


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "met" if value else "**not met**"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def render_markdown(data: dict[str, Any]) -> str:
    """The results as markdown: one table row per figure line, then targets, commands and machines."""
    figures = data.get("figures", {})
    out = ["# Benchmark results", "",
           "Written by `make bench` (`bench/*.py`); every ratio was measured side by side in one run.", "",
           "| figure | ours | reference | ratio (ours / reference) | unit |", "|---|---|---|---|---|"]
    for fig in figures.values():
        for row in fig.get("rows", []):
            out.append(f"| {row['label']} | {_fmt(row.get('ours'))} | {_fmt(row.get('reference'))} | "
                       f"{_fmt(row.get('ratio'))} | {row.get('unit', '')} |")
    targets = [t for fig in figures.values() for t in fig.get("targets", [])]
    if targets:
        out += ["", "## Targets", "", "| target | measured | status |", "|---|---|---|"]
        for t in targets:
            status = "not measured in this run" if t.get("met") is None else _fmt(t["met"])
            out.append(f"| {t['target']} | {_fmt(t.get('measured'))} | {status} |")
    out += ["", "## How each figure was made", "", "| figure | command | machine | when |", "|---|---|---|---|"]
    for name, fig in figures.items():
        m = fig.get("machine", {})
        where = (f"{m.get('nproc')} CPUs ({m.get('cpu_model')}), {m.get('bench_threads')} torch threads, "
                 f"load {m.get('loadavg_1m')}")
        out.append(f"| {name} | `{fig.get('command', '')}` | {where} | {m.get('timestamp', '')} |")
    notes = [f"- **{name}**: {fig['notes']}" for name, fig in figures.items() if fig.get("notes")]
    if notes:
        out += ["", "## Notes", "", *notes]
    out += ["", f"Machine note: {NOISE_NOTE}.", ""]
    return "\n".join(out)


def write_figure(figure: str, rows: Iterable[dict[str, Any]], *, raw: dict[str, Any],
                 targets: Iterable[dict[str, Any]] = (), notes: str = "") -> dict[str, Any]:
    record = {"command": command_line(), "machine": machine_info(), "rows": list(rows), "targets": list(targets),
              "notes": notes, "raw": raw}
    update_results(figure, record)
    return record


def bench_rows(split: str, n: int, seed: int = 13) -> list[dict[str, Any]]:
    """``n`` chat rows of a split of the params.yaml dataset, built in a scratch dir if ``data/`` is empty
    (the dataset stage is seeded, so a fresh clone gets the same rows)."""
    from jsontune.config import load_params
    from jsontune.data import read_jsonl

    path = REPO / "data" / f"{split}.jsonl"
    if not path.is_file():
        from jsontune.pipeline import run_dataset

        scratch = REPO / "bench" / ".data"
        if not (scratch / "data" / f"{split}.jsonl").is_file():
            run_dataset(load_params(REPO / "params.yaml"), scratch)
        path = scratch / "data" / f"{split}.jsonl"
    rows = read_jsonl(path)
    if len(rows) < n:
        raise ValueError(f"{path}: {len(rows)} rows, the bench needs {n}")
    return rows[:n]
