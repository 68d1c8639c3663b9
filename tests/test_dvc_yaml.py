"""dvc.yaml stays consistent with params.yaml, the stage scripts and the pipeline's paths."""

from __future__ import annotations

from pathlib import Path

import yaml

from jsontune import pipeline

REPO = Path(__file__).resolve().parent.parent
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
ORDER = ["dataset", "baseline", "sft", "dpo", "eval", "merge", "report"]


def _resolve(key: str) -> object:
    node: object = PARAMS
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"dvc.yaml names params key {key!r} missing from params.yaml"
        node = node[part]
    return node


def _outputs(stage: dict, kind: str) -> list[str]:
    return [next(iter(o)) if isinstance(o, dict) else o for o in stage.get(kind, [])]


def test_stages_are_in_order_with_thin_scripts() -> None:
    assert list(DVC["stages"]) == ORDER
    for name, stage in DVC["stages"].items():
        assert stage["cmd"] == f"python stages/{name}.py"
        script = REPO / "stages" / f"{name}.py"
        assert f"stages/{name}.py" in stage["deps"]
        # The script is thin: its logic (run_<stage>) lives in the pipeline module, so edits there rerun it.
        assert "jsontune/pipeline.py" in stage["deps"], f"stage {name} must depend on jsontune/pipeline.py"
        code = [line for line in script.read_text().splitlines() if line and not line.startswith((" ", '"', "#"))]
        assert len(code) <= 4, f"{script} should only import and call its pipeline function"


def test_every_declared_param_exists_and_metrics_are_kept_in_git() -> None:
    for stage in DVC["stages"].values():
        for key in stage.get("params", []):
            _resolve(key)
        for entry in stage.get("metrics", []):
            path, opts = next(iter(entry.items()))
            assert opts.get("cache") is False, f"{path} must be committed to git (cache: false)"


def test_stage_paths_match_the_pipeline_module() -> None:
    stages = DVC["stages"]
    splits = ("train", "val", "test")
    assert _outputs(stages["dataset"], "outs") == [pipeline.SPLIT_FILE.format(split=s) for s in splits]
    assert _outputs(stages["dataset"], "metrics") == [pipeline.DATA_CARD]
    for name in ("sft", "dpo"):
        assert _outputs(stages[name], "outs") == [pipeline.ADAPTER.format(stage=name)]
        assert _outputs(stages[name], "metrics") == [pipeline.TRAIN_LOG.format(stage=name)]
    assert pipeline.STAGE_METRICS.format(stage="baseline") in _outputs(stages["baseline"], "metrics")
    assert {pipeline.STAGE_METRICS.format(stage=s) for s in ("sft", "dpo")} | {pipeline.VAL_METRICS} == set(
        _outputs(stages["eval"], "metrics"))
    assert _outputs(stages["merge"], "outs") == [pipeline.MERGED_DIR, pipeline.PREDICTIONS.format(stage="merged")]
    assert _outputs(stages["report"], "outs") == [pipeline.REPORT, pipeline.FIGURES]
    assert _outputs(stages["report"], "plots") == [pipeline.STAGE_PLOT]
    for stage in pipeline.EVALUATED:
        assert pipeline.STAGE_METRICS.format(stage=stage) in stages["report"]["deps"]
        assert pipeline.PREDICTIONS.format(stage=stage) in stages["report"]["deps"]


def test_extra_sets_are_dependencies_of_every_scoring_stage() -> None:
    """Editing an external test set (data/extra/ or a task folder's extra/) must rerun the stages that score it."""
    for path in PARAMS["eval"]["extra_sets"]:
        assert path.startswith("data/extra/"), f"{path}: keep external sets in data/extra/ (a dvc.yaml dep)"
    for name in ("baseline", "eval", "merge"):
        deps = DVC["stages"][name]["deps"]
        assert {"data/extra", "jsontune/tasks", "tasks"} <= set(deps) and "eval" in DVC["stages"][name]["params"]


def test_training_stages_do_not_read_generation_or_eval_params() -> None:
    """Editing dpo.* must not rerun sft or anything upstream; editing sft.* must not rerun the dataset."""
    stages = DVC["stages"]
    assert not any(k.startswith("dpo") for s in ("dataset", "baseline", "sft") for k in stages[s].get("params", []))
    assert not any(k.startswith(("sft", "model")) for k in stages["dataset"]["params"])
