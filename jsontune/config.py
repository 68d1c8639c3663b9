"""Typed view of ``params.yaml``: one dataclass per top-level section, keys map 1:1 to fields.

The field defaults are the committed ``params.yaml`` (a test keeps them equal), so a params file that
leaves a key out gets the same recipe as the default one.

Loading is strict so that a typo in ``params.yaml`` fails before any work starts instead of being
silently ignored: unknown keys, wrong types and out-of-range values raise :class:`ParamsError` naming
the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(ValueError):
    """A params file that cannot be used; the message names the file and key path."""


@dataclass
class ModelParams:
    name: str = "models/SmolLM2-135M-Instruct"
    """A local checkpoint directory or a hub id such as ``Qwen/Qwen2.5-1.5B-Instruct``."""
    quantization: Literal["none", "nf4"] = "none"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights/compute dtype for evaluation and merging, and for training unless a bf16 run on CPU holds an
    fp32 base in bf16 (``training.training_base``). fp32 on CPU: bf16 decodes faster there but changes a
    few percent of the answers, enough to fail the merged-vs-adapter check; bf16 on recent GPUs."""
    trust_remote_code: bool = False


@dataclass
class TaskParams:
    name: str = "support_ticket"
    """A built-in task (``support_ticket``, ``user_profile``) or the path of a task folder (see jsontune/tasks)."""
    system_prompt: str = ""
    """Empty: the task's own ``system_prompt.txt``; any text overrides it."""


@dataclass
class DatasetParams:
    source: str = "synthetic"
    """``synthetic`` (the task's generator.py), ``task`` (the task's data.jsonl, else its generator), or a
    path to a JSONL file of {"text", "output"} rows."""
    n_examples: int = 1000
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    train_examples: int = 1400
    """0: the rows ``n_examples`` leaves after val and test. Any other number: that many train rows from
    the train templates, while val and test stay the rows ``n_examples`` gives them (generator sources
    only), so a bigger training set is scored on the same evaluation rows."""
    seed: int = 13


@dataclass
class GenerationParams:
    batch_size: int = 32
    max_new_tokens: int = 48


@dataclass
class LoraParams:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"
    """A list of module names, or ``all-linear``."""


@dataclass
class SftParams:
    lora: LoraParams = field(default_factory=LoraParams)
    learning_rate: float = 1e-3
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    epochs: float = 2.0
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 256
    optimizer: str = "adamw_torch"
    bf16: bool | Literal["auto"] = "auto"
    """bf16 autocast while training. ``auto``: on where the hardware computes bf16 natively (a bf16 GPU, or
    a CPU with AVX512-BF16 or AMX), else fp32, since emulated bf16 (AVX2-only CPUs) takes minutes a step.
    On CPU an unquantized fp32 base is then held in bf16 too (see ``training.training_base``)."""
    attn_implementation: Literal["sdpa", "eager"] = "eager"
    """Attention kernel while training. On CPU, ``eager`` is what makes ``bf16`` pay off (SDPA's backward
    is slower in bf16 than in fp32 there); in fp32 both take the same time. Keep ``sdpa`` on GPUs."""
    activation_checkpointing: bool = False
    group_by_length: bool = True
    """Batch rows of similar length together: less padding, same examples per epoch."""
    seed: int = 13
    save_steps: int = 25
    """Save a resumable checkpoint every this many optimizer steps (0: never); see jsontune/checkpoints.py."""


@dataclass
class DpoParams:
    beta: float = 0.25
    learning_rate: float = 1e-5
    lr_scheduler: str = "constant"
    epochs: float = 1.0
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    n_prompts: int = 32
    """How many train examples get preference pairs."""
    hard_negatives_per_prompt: int = 2
    on_policy: bool = True
    """Add the SFT model's own non-exact answers on these prompts as rejected answers."""
    on_policy_temperature: float = 1.5
    """Sampling temperature for on-policy answers; greedy answers on train prompts are mostly right."""
    sft_weight: float = 1.0
    """Weight of the SFT (NLL) term on chosen answers; 0 turns it off."""
    optimizer: str = "adamw_torch"
    bf16: bool | Literal["auto"] = "auto"
    """See :attr:`SftParams.bf16`."""
    attn_implementation: Literal["sdpa", "eager"] = "eager"
    """Attention kernel while training; see :attr:`SftParams.attn_implementation`."""
    activation_checkpointing: bool = False
    seed: int = 13
    save_steps: int = 5
    """Save a resumable checkpoint every this many optimizer steps (0: never)."""


@dataclass
class MergeParams:
    adapter: Literal["dpo", "sft", "best"] = "best"
    min_agreement: float = 0.99
    """Fail when the merged model answers differently from the adapter on more than this share."""


@dataclass
class EvalParams:
    decoding: list[Literal["free", "constrained"]] = field(default_factory=lambda: ["free", "constrained"])
    """Decoding modes every evaluated stage is scored in; free is required (its numbers are the top-level keys)."""
    reuse_free_answers: bool = True
    """Constrained decoding keeps a free greedy answer the grammar accepts token by token (greedy decoding
    would pick the same tokens) and decodes only the others; false decodes every row again."""
    extra_sets: list[str] = field(default_factory=list)
    """JSONL files of {"text", "output", "source"?} rows (labels may be partial) scored like the test split."""


@dataclass
class Params:
    model: ModelParams = field(default_factory=ModelParams)
    task: TaskParams = field(default_factory=TaskParams)
    dataset: DatasetParams = field(default_factory=DatasetParams)
    generation: GenerationParams = field(default_factory=GenerationParams)
    sft: SftParams = field(default_factory=SftParams)
    dpo: DpoParams = field(default_factory=DpoParams)
    merge: MergeParams = field(default_factory=MergeParams)
    eval: EvalParams = field(default_factory=EvalParams)


RANGES: dict[str, tuple[float, float]] = {
    "dataset.n_examples": (10, 10_000_000),
    "dataset.val_fraction": (0.0, 0.5),
    "dataset.test_fraction": (0.01, 0.5),
    "dataset.train_examples": (0, 10_000_000),
    "generation.batch_size": (1, 1024),
    "generation.max_new_tokens": (1, 4096),
    "sft.lora.r": (1, 1024),
    "sft.lora.dropout": (0.0, 0.9),
    "sft.learning_rate": (1e-8, 1.0),
    "sft.warmup_ratio": (0.0, 1.0),
    "sft.epochs": (0.01, 100),
    "sft.batch_size": (1, 4096),
    "sft.grad_accum": (1, 4096),
    "sft.max_length": (16, 32768),
    "sft.save_steps": (0, 1_000_000),
    "dpo.beta": (1e-4, 10.0),
    "dpo.learning_rate": (1e-9, 1.0),
    "dpo.epochs": (0.01, 100),
    "dpo.batch_size": (1, 4096),
    "dpo.grad_accum": (1, 4096),
    "dpo.max_length": (16, 32768),
    "dpo.save_steps": (0, 1_000_000),
    "dpo.n_prompts": (1, 10_000_000),
    "dpo.hard_negatives_per_prompt": (0, 20),
    "dpo.sft_weight": (0.0, 10.0),
    "dpo.on_policy_temperature": (0.01, 5.0),
    "merge.min_agreement": (0.0, 1.0),
}


# String params that name a transformers option: the ones that work with the pinned stack (no extra
# package, no extra scheduler arguments), so a typo fails here and not when the trainer starts.
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adafactor", "ademamix", "sgd", "adagrad", "adamw_bnb_8bit",
              "adamw_8bit", "ademamix_8bit", "lion_8bit", "lion_32bit", "paged_adamw_32bit", "paged_adamw_8bit",
              "paged_ademamix_32bit", "paged_ademamix_8bit", "paged_lion_32bit", "paged_lion_8bit", "rmsprop",
              "rmsprop_bnb", "rmsprop_bnb_8bit", "rmsprop_bnb_32bit")
LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                 "inverse_sqrt")
CHOICES: dict[str, tuple[str, ...]] = {
    "sft.optimizer": OPTIMIZERS,
    "dpo.optimizer": OPTIMIZERS,
    "sft.lr_scheduler": LR_SCHEDULERS,
    "dpo.lr_scheduler": LR_SCHEDULERS,
}


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, t) for t in typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _describe(tp: Any) -> str:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is Literal:
        return repr(args[0]) if len(args) == 1 else "one of " + ", ".join(repr(a) for a in args)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and any(typing.get_origin(a) is Literal for a in args):
        return " or ".join(_describe(a) for a in args)  # bool | Literal["auto"]: "bool or 'auto'"
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _build(cls: type, data: Any, path: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: {path or '(top level)'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(names)}"
            raise ParamsError(f"{source}: {key_path}: unknown key{hint}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, key_path, source)
            continue
        if isinstance(value, str) and tp is float:
            try:  # YAML reads 1e-3 (no dot) as a string
                value = float(value)
            except ValueError:
                pass
        if not _type_ok(value, tp):
            raise ParamsError(f"{source}: {key_path}: {value!r} is not {_describe(tp)}")
        if isinstance(value, int) and tp is float:
            value = float(value)
        if key_path in CHOICES and value not in CHOICES[key_path]:
            close = difflib.get_close_matches(str(value), CHOICES[key_path], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"{source}: {key_path}: {value!r} is not allowed{hint} "
                              f"(allowed: {', '.join(CHOICES[key_path])})")
        if key_path in RANGES:
            lo, hi = RANGES[key_path]
            if not lo <= value <= hi:
                raise ParamsError(f"{source}: {key_path}: {value!r} is out of range [{lo}, {hi}]")
        kwargs[key] = value
    return cls(**kwargs)


def params_from_dict(data: dict[str, Any], source: str = "<params>") -> Params:
    params = _build(Params, data, "", source)
    if params.dataset.val_fraction + params.dataset.test_fraction >= 0.9:
        raise ParamsError(f"{source}: dataset.val_fraction + dataset.test_fraction must leave data to train on")
    if params.merge.adapter == "best" and params.dataset.val_fraction == 0:
        raise ParamsError(f"{source}: merge.adapter: best picks the adapter on the validation split, but "
                          "dataset.val_fraction is 0; set a val_fraction or merge.adapter: dpo | sft")
    if params.dpo.hard_negatives_per_prompt == 0 and not params.dpo.on_policy:
        raise ParamsError(f"{source}: dpo.hard_negatives_per_prompt is 0 and dpo.on_policy is false: DPO would "
                          "have no preference pairs; raise one or enable the other")
    modes = params.eval.decoding
    if "free" not in modes or len(set(modes)) != len(modes):
        raise ParamsError(f"{source}: eval.decoding: {modes!r} must list 'free' and no mode twice")
    names = [Path(p).stem for p in params.eval.extra_sets]
    if len(set(names)) != len(names):
        raise ParamsError(f"{source}: eval.extra_sets: two files with the same name {names!r} (sets are named by file)")
    return params


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: params file not found") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return params_from_dict(data, str(path))


def to_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)
