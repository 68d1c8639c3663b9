"""The other tasks end to end on the tiny model: the built-in ``user_profile`` and a bring-your-own
task made only of files. The full ``dvc repro`` of every stage is covered once by test_pipeline_e2e
(same dvc.yaml); here the stages run in process to keep the suite fast, and the BYO task goes
through the real ``dvc repro dataset`` so the params and folder wiring is the one users get."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml

from jsontune import pipeline
from jsontune.config import Params, load_params
from jsontune.predict import predict_file
from tests.test_pipeline_e2e import dvc, make_workspace

HEADLINE = {"json_validity", "schema_validity", "field_accuracy", "exact_match", "per_field", "failures"}


def small(params: dict) -> dict:
    """Tiny-run sizes for tasks whose prompts and answers are longer than a support ticket."""
    params["dataset"]["n_examples"] = 60
    params["generation"]["max_new_tokens"] = 16
    params["sft"]["max_length"] = 320
    params["sft"]["epochs"] = 0.2
    params["dpo"].update(n_prompts=2, max_length=320)
    return params


def run_model_stages(params: Params, root: Path) -> dict[str, dict]:
    """baseline -> sft -> dpo -> eval -> merge in process; the metrics of every scored stage."""
    pipeline.run_baseline(params, root)
    pipeline.run_sft(params, root)
    assert pipeline.run_dpo(params, root)["pairs"] > 0
    stages = pipeline.run_eval(params, root)
    merged = pipeline.run_merge(params, root)
    assert merged["adapter"] in ("sft", "dpo")
    return {**stages, "merged": merged}


def test_user_profile_through_the_documented_exp_run(tmp_path: Path, tiny_model: Path) -> None:
    """The README's command for the second task, ``dvc exp run -S task.name=user_profile``, runs every
    stage (report included); the ticket task's own extra set is not scored against the profile schema."""
    env = make_workspace(tmp_path, tiny_model)
    raw = small(yaml.safe_load((tmp_path / "params.yaml").read_text()))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    dvc(tmp_path, env, "exp", "run", "-S", "task.name=user_profile")

    card = json.loads((tmp_path / "metrics/data.json").read_text())
    assert card["train"]["n"] > 0 and set(card["test"]["primary_role"]) == {
        "Backend Engineer", "Frontend Engineer", "Data Scientist", "DevOps Engineer", "Product Manager"}
    train = [json.loads(line) for line in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    assert train[0]["prompt"][0]["content"].startswith("Extract the user profile")
    assert list(train[0]["output"]) == ["full_name", "email", "years_of_experience", "skills", "primary_role"]
    for stage in ("baseline", "sft", "dpo", "merged"):
        metrics = json.loads((tmp_path / f"metrics/{stage}.json").read_text())
        assert HEADLINE <= set(metrics) and metrics["n"] == card["test"]["n"] and "extra_sets" not in metrics
        assert set(metrics["array_fields"]["skills"]) == {"precision", "recall", "f1"}
        assert "out_of_range" in metrics["failures"] and "wrong_years_of_experience" in metrics["failures"]
    assert json.loads((tmp_path / "metrics/dpo_train.json").read_text())["pairs"] > 0
    report = (tmp_path / "reports/eval.md").read_text()
    assert "## `primary_role` confusion matrix" in report and "skills" in report


# A task the package knows nothing about: nested object, integer bounds, an enum, an array, a null.
REVIEW_SCHEMA = {
    "title": "the product review",
    "type": "object",
    "properties": {
        "product": {"type": "string"},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "sentiment": {"enum": ["positive", "mixed", "negative"]},
        "pros": {"type": "array", "items": {"type": "string"}},
        "reviewer": {"type": "object",
                     "properties": {"name": {"type": "string"}, "country": {"type": ["string", "null"]}},
                     "required": ["name", "country"], "additionalProperties": False},
    },
    "required": ["product", "rating", "sentiment", "pros", "reviewer"],
    "additionalProperties": False,
}
PRODUCTS = ["kettle", "headphones", "desk lamp", "backpack", "blender", "e-reader"]
PROS = ["quiet", "cheap", "sturdy", "light", "fast"]
NAMES = [("Ana", "Brazil"), ("Tom", None), ("Kenji", "Japan"), ("Lea", "France"), ("Sam", None)]


def review_rows() -> list[dict]:
    rows = []
    for i, (product, (name, country), rating) in enumerate(itertools.product(PRODUCTS, NAMES, (1, 3, 5))):
        pros = [PROS[i % len(PROS)], PROS[(i + 2) % len(PROS)]][: 1 + i % 2] if rating > 1 else []
        sentiment = {1: "negative", 3: "mixed", 5: "positive"}[rating]
        where = f" from {country}" if country else ""
        text = (f"{name}{where} gives the {product} {rating} stars" + (f": {' and '.join(pros)}." if pros else "."))
        rows.append({"text": text, "output": {"product": product, "rating": rating, "sentiment": sentiment,
                                              "pros": pros, "reviewer": {"name": name, "country": country}}})
    return rows


def test_bring_your_own_task_from_files_only(tmp_path: Path, tiny_model: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_workspace(tmp_path, tiny_model)
    folder = tmp_path / "tasks" / "reviews"
    folder.mkdir(parents=True)
    (folder / "schema.json").write_text(json.dumps(REVIEW_SCHEMA, indent=2))
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in review_rows()))
    (folder / "system_prompt.txt").write_text("Turn the review into JSON.\n")
    (folder / "extra").mkdir()
    (folder / "extra" / "handpicked.jsonl").write_text(
        '{"text": "Ines from Chile: 2 stars for the kettle, it leaks.", "output": {"product": "kettle", "rating": 2}}\n'
        '{"text": "Five stars, quiet headphones. Bo", "output": {"sentiment": "positive"}, "source": "web"}\n')
    raw = small(yaml.safe_load((tmp_path / "params.yaml").read_text()))
    raw["task"]["name"] = "tasks/reviews"
    raw["dataset"]["source"] = "task"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    dvc(tmp_path, env, "repro", "dataset")
    card = json.loads((tmp_path / "metrics/data.json").read_text())
    assert sum(card[s]["n"] for s in ("train", "val", "test")) == len(review_rows()) - card["near_duplicates_removed"]
    assert card["train"]["sentiment"].keys() == {"positive", "mixed", "negative"}
    first = json.loads((tmp_path / "data/train.jsonl").read_text().splitlines()[0])
    assert first["prompt"][0] == {"role": "system", "content": "Turn the review into JSON."}
    (folder / "system_prompt.txt").write_text("Turn the product review into JSON.\n")
    assert "dataset" in dvc(tmp_path, env, "status")  # editing the task folder reruns the dataset stage
    (folder / "system_prompt.txt").write_text("Turn the review into JSON.\n")

    monkeypatch.chdir(tmp_path)  # task.name is a path relative to the workspace, as under dvc repro
    params = load_params("params.yaml")
    stages = run_model_stages(params, tmp_path)
    for metrics in stages.values():
        assert HEADLINE <= set(metrics)
        assert list(metrics["per_field"]) == ["product", "rating", "sentiment", "pros", "reviewer"]
        assert list(metrics["nested_fields"]) == ["reviewer.name", "reviewer.country"]
        assert set(metrics["array_fields"]["pros"]) == {"precision", "recall", "f1"}
        assert "out_of_range" in metrics["failures"]
        # The task folder's own extra set is scored with no entry in params.yaml, on its partial labels.
        assert raw["eval"]["extra_sets"] == [] and metrics["extra_sets"]["handpicked"]["labelled"] == {
            "product": 1, "rating": 1, "sentiment": 1, "pros": 0, "reviewer": 0}

    messages = tmp_path / "messages.jsonl"
    messages.write_text('{"text": "Mia from Peru gives the kettle 5 stars: quiet."}\n')
    assert predict_file("runs/merged", str(messages), "out.jsonl") == 1
    assert {"output", "raw", "json_valid", "schema_valid"} <= set(json.loads(Path("out.jsonl").read_text()))
