"""Same params, same bytes: the dataset stage is byte-identical across runs, and the whole tiny-model
pipeline (dataset -> baseline -> sft -> dpo -> eval -> merge) run twice in this process gives identical
metrics, predictions and adapters (seeds for data, LoRA init, batch order and on-policy sampling; a
missing seed would make the second run differ because the process's RNGs have moved on).

The two runs double as the offline and secrets check: the hub is not switched off beforehand, an audit
hook blocks and records every network connection, and HF_TOKEN is a sentinel that must not appear in any
file or in the stages' output. (A run in a fresh process is compared in tests/test_resume.py.)"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest

from jsontune.config import load_params, params_from_dict
from jsontune.pipeline import run_dataset
from tests.conftest import REPO

SECRET = "hf_secret-sentinel-0d5e"
STAGES = ("run_dataset", "run_baseline", "run_sft", "run_dpo", "run_eval", "run_merge", "run_report")

NETWORK_EVENTS = frozenset({"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "http.client.connect"})
_guard: dict[str, list[str] | None] = {"attempts": None}


def _no_network(event: str, args: tuple) -> None:
    """Audit hook (cannot be removed, so it is inert unless a guarded run is in progress)."""
    attempts = _guard["attempts"]
    if attempts is not None and event in NETWORK_EVENTS:
        attempts.append(f"{event} {args[1:2]!r}")
        raise OSError(f"test: network access blocked ({event})")


_hook_installed: list[bool] = []


def guarded_run(data: dict, root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every stage in this process, with the hub *not* switched off beforehand, HF_TOKEN set to the
    sentinel and every network connection blocked and recorded."""
    import huggingface_hub.constants as hub

    from jsontune import pipeline

    if not _hook_installed:
        sys.addaudithook(_no_network)
        _hook_installed.append(True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    attempts: list[str] = []
    _guard["attempts"] = attempts
    try:
        params = params_from_dict(data)
        for stage in STAGES:
            getattr(pipeline, stage)(params, root)
    finally:
        _guard["attempts"] = None
        monkeypatch.undo()
    return attempts


def tiny_params(model_dir: Path) -> dict:
    from tests.test_pipeline_e2e import tiny_params as e2e_params

    data = e2e_params(model_dir)
    data["sft"]["save_steps"] = 4  # checkpoints are written (and must not hold the token), then removed
    data["eval"]["extra_sets"] = [str(REPO / p) for p in data["eval"]["extra_sets"]]
    return data


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> tuple[Path, Path, list[str], str]:
    data = tiny_params(tiny_model)
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    output = io.StringIO()
    attempts: list[str] = []
    # The stages' console output (trainer logs, progress bars, warnings) is kept to grep for the token;
    # tests/test_resume.py checks a whole process's stdout and stderr too.
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stdout(output), \
            contextlib.redirect_stderr(output):
        for root in (first, second):
            attempts += guarded_run(data, root, monkeypatch)
    return first, second, attempts, output.getvalue()


def _files(root: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob(pattern)) if p.is_file()}


# ---------------------------------------------------------------- the dataset stage


@pytest.mark.parametrize("source", ["synthetic", "file"])
def test_dataset_stage_is_byte_identical_across_runs(source: str, tmp_path: Path) -> None:
    params = load_params(REPO / "params.yaml")
    if source == "file":
        params.dataset.source = str(REPO / "tests/data/bad/duplicate-rows.jsonl")
        params.dataset.train_examples = 0  # a file's rows are all used
    outputs = []
    for name in ("a", "b"):
        run_dataset(params, tmp_path / name)
        outputs.append({**_files(tmp_path / name, "data/*.jsonl"), **_files(tmp_path / name, "metrics/*.json")})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 4 and all(outputs[0].values())


def test_dataset_stage_follows_the_seed(tmp_path: Path) -> None:
    params = load_params(REPO / "params.yaml")
    run_dataset(params, tmp_path / "a")
    params.dataset.seed += 1
    run_dataset(params, tmp_path / "b")
    assert (tmp_path / "a/data/train.jsonl").read_bytes() != (tmp_path / "b/data/train.jsonl").read_bytes()


# ---------------------------------------------------------------- the tiny-model pipeline, twice


TIMING_KEYS = frozenset({"train_runtime", "speed"})  # wall-clock measurements, not results


def _without_timings(name: str, blob: bytes) -> bytes:
    """Results only: timing keys dropped from JSON metrics, the tokens/s table dropped from the report."""
    def strip(obj: object) -> object:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    if name.endswith(".json"):
        return json.dumps(strip(json.loads(blob)), sort_keys=True).encode()
    if name.endswith(".md"):
        lines, out, in_speed_table = blob.decode().splitlines(), [], False
        for line in lines:
            in_speed_table = (in_speed_table or "tok/s" in line) and line.startswith("|")
            if not in_speed_table:
                out.append(line)
        return "\n".join(out).encode()
    return blob


def test_identical_metrics_predictions_and_data(two_runs: tuple[Path, Path, list[str], str]) -> None:
    fresh, here, _, _ = two_runs
    for pattern in ("data/*.jsonl", "metrics/*.json", "predictions/*.jsonl", "reports/*"):
        a, b = ({k: _without_timings(k, v) for k, v in _files(root, pattern).items()} for root in (fresh, here))
        assert a and a == b, pattern
    assert json.loads((fresh / "metrics/dpo_train.json").read_text())["pair_kinds"].get("on_policy", 0) > 0


def test_timings_are_the_only_thing_dropped_before_comparing() -> None:
    metrics = {"exact_match": 0.5, "speed": {"tokens_per_second": 3.0}, "constrained": {"speed": {}, "n": 2}}
    assert json.loads(_without_timings("m.json", json.dumps(metrics).encode())) == {
        "exact_match": 0.5, "constrained": {"n": 2}}
    report = "# r\n| stage | exact |\n| sft | 0.5 |\n\n| stage | tok/s free |\n| sft | 12 |\n\nend"
    assert _without_timings("eval.md", report.encode()).decode() == "# r\n| stage | exact |\n| sft | 0.5 |\n\n\nend"


def test_identical_adapters_and_loss_curves(two_runs: tuple[Path, Path, list[str], str]) -> None:
    from safetensors.torch import load_file

    fresh, here, _, _ = two_runs
    for stage in ("sft", "dpo"):
        a = load_file(str(fresh / f"runs/{stage}/adapter/adapter_model.safetensors"))
        b = load_file(str(here / f"runs/{stage}/adapter/adapter_model.safetensors"))
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), stage
        curves = [[line.split("\t")[:2] for line in (root / f"dvclive/{stage}/plots/metrics/loss.tsv")
                   .read_text().splitlines()] for root in (fresh, here)]
        assert curves[0] == curves[1] and len(curves[0]) > 2


# ---------------------------------------------------------------- offline and secrets, on the same runs


def test_whole_pipeline_made_no_network_connection(two_runs: tuple[Path, Path, list[str], str]) -> None:
    _, _, attempts, _ = two_runs
    assert attempts == []


def test_the_hf_token_is_never_written_or_logged(two_runs: tuple[Path, Path, list[str], str]) -> None:
    fresh, here, _, output = two_runs
    assert "loss" in output and SECRET not in output
    for root in (fresh, here):
        files = [p for p in root.rglob("*") if p.is_file()]
        assert len(files) > 20
        assert [str(p) for p in files if SECRET.encode() in p.read_bytes()] == []
    assert not any((here / "runs/checkpoints").iterdir())  # written during sft/dpo, removed on success



def test_the_network_guard_blocks_and_records(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    if not _hook_installed:
        sys.addaudithook(_no_network)
        _hook_installed.append(True)
    attempts: list[str] = []
    _guard["attempts"] = attempts
    try:
        with pytest.raises(OSError, match="network access blocked"):
            socket.getaddrinfo("huggingface.co", 443)
    finally:
        _guard["attempts"] = None
    assert attempts and attempts[0].startswith("socket.getaddrinfo")
