"""The command line: ``check-params`` exit codes and messages, ``python -m jsontune``, the stage runner,
and the input reader of ``jsontune predict``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jsontune.cli import main, stage_main
from jsontune.config import Params, ParamsError
from jsontune.data import DataError
from jsontune.predict import prediction_setup, read_texts
from jsontune.tasks import load_task, save_model_task

REPO = Path(__file__).resolve().parent.parent
PARAMS = REPO / "params.yaml"


@pytest.fixture()
def bad_params(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    data = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    data["sft"]["batch_sise"] = data["sft"].pop("batch_size")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jsontune", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


# ---------------------------------------------------------------- check-params in process


def test_check_params_ok(capsys):
    assert main(["check-params", str(PARAMS)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{PARAMS}: ok\n"
    assert err == ""


def test_check_params_defaults_to_params_yaml(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["check-params"]) == 0
    assert capsys.readouterr().out == "params.yaml: ok\n"


def test_check_params_says_when_it_cannot_check_memory(capsys):
    """A hub model that is not downloaded has no config.json to size it: ok, but not silently."""
    preset = REPO / "presets" / "qwen2.5-1.5b-qlora.yaml"
    assert main(["check-params", str(preset)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{preset}: ok\n"
    assert err == (f"{preset}: memory not checked: Qwen/Qwen2.5-1.5B-Instruct has no local config.json (a hub "
                   "model not downloaded yet), so its size is unknown\n")


def test_check_params_bad_file(capsys, bad_params):
    assert main(["check-params", str(bad_params)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {bad_params}: sft.batch_sise: unknown key; did you mean 'batch_size'?\n"


def test_check_params_names_a_missing_extra_set(capsys, tmp_path, monkeypatch):
    """A typo in eval.extra_sets fails before any work, not after the baseline has generated for minutes."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "params.yaml"
    path.write_text("eval:\n  extra_sets: [data/extra/handwriten.jsonl]\n")
    assert main(["check-params", str(path)]) == 2
    assert capsys.readouterr().err == "error: data/extra/handwriten.jsonl: file not found (listed in eval.extra_sets)\n"


def test_check_params_missing_file(capsys, tmp_path):
    path = tmp_path / "nope.yaml"
    assert main(["check-params", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {path}: params file not found\n"


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_command_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "required: command" in capsys.readouterr().err


# ---------------------------------------------------------------- python -m jsontune


def test_module_check_params_ok():
    proc = run_module("check-params", "params.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "params.yaml: ok\n"
    assert "Traceback" not in proc.stderr


def test_module_check_params_bad_file(bad_params):
    proc = run_module("check-params", str(bad_params))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.endswith(f"error: {bad_params}: sft.batch_sise: unknown key; did you mean 'batch_size'?\n")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("bad", [False, True], ids=["ok", "bad-file"])
def test_check_params_does_not_import_torch(bad, bad_params):
    """check-params must stay light on both paths: a bad params file should not pull in torch (seconds of
    import time, and a crash instead of the message where torch is not installed)."""
    target = str(bad_params) if bad else str(PARAMS)
    code = ("import sys\nfrom jsontune.cli import main\n"
            f"rc = main(['check-params', {target!r}])\n"
            "print(rc, 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == f"{2 if bad else 0} False"


# ---------------------------------------------------------------- stage_main


def test_stage_main_runs_and_prints_the_summary(capsys, tmp_path):
    seen = {}

    def run(params: Params, root: Path) -> dict:
        """Do a thing.

        More text."""
        seen["params"], seen["root"] = params, root
        return {"n": 3, "path": root / "x"}

    stage_main(run, ["--params", str(PARAMS), "--root", str(tmp_path)])
    assert isinstance(seen["params"], Params)
    assert seen["params"].dataset.seed == 13
    assert seen["root"] == tmp_path
    out = capsys.readouterr().out
    assert json.loads(out) == {"n": 3, "path": str(tmp_path / "x")}


def test_stage_main_bad_params_exit_2(capsys, bad_params, tmp_path):
    called = []
    with pytest.raises(SystemExit) as info:
        stage_main(lambda p, r: called.append(1), ["--params", str(bad_params), "--root", str(tmp_path)])
    assert info.value.code == 2
    assert called == []
    assert capsys.readouterr().err == (f"error: {bad_params}: sft.batch_sise: unknown key; "
                                       f"did you mean 'batch_size'?\n")


def _known_failure(kind: str) -> Exception:
    from jsontune.models import ModelError

    return {"data": DataError("rows.jsonl:3: text: missing"),
            # the merge stage's agreement check
            "model": ModelError("merged model agrees with the dpo adapter on only 97.0% of the test split"),
            "params": ParamsError("no DPO pairs from 32 prompts (dpo.n_prompts)")}[kind]


@pytest.mark.parametrize("kind", ["data", "model", "params"])
def test_stage_main_known_failures_exit_2_with_one_line(capsys, tmp_path, kind):
    error = _known_failure(kind)

    def run(params: Params, root: Path) -> None:
        raise error

    with pytest.raises(SystemExit) as info:
        stage_main(run, ["--params", str(PARAMS), "--root", str(tmp_path)])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {error}\n"


def test_stage_main_other_errors_propagate(tmp_path):
    def run(params: Params, root: Path) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        stage_main(run, ["--params", str(PARAMS), "--root", str(tmp_path)])


# ---------------------------------------------------------------- read_texts


def test_read_texts_accepts_good_rows_and_skips_blank_lines():
    stream = io.StringIO('{"text": "hello"}\n\n   \n{"text": "Zoë", "id": 7}\n{"text": " x ", "output": null}')
    assert read_texts(stream, "in.jsonl") == [{"text": "hello"}, {"text": "Zoë", "id": 7},
                                              {"text": " x ", "output": None}]


def test_read_texts_empty_stream():
    assert read_texts(io.StringIO(""), "<stdin>") == []


def test_read_texts_errors_name_file_and_line():
    lines = [
        '{"text": "ok"}',
        '{"text": "x",',
        "",
        '["text"]',
        '{"message": "hi"}',
        '{"text": ""}',
        '{"text": 5}',
        '{"text": "fine"}',
    ]
    with pytest.raises(DataError) as info:
        read_texts(io.StringIO("\n".join(lines) + "\n"), "<stdin>")
    assert str(info.value).splitlines() == [
        "5 invalid rows:",
        "<stdin>:2: (line): not valid JSON: Expecting property name enclosed in double quotes at column 14",
        "<stdin>:4: (line): expected a JSON object, got list",
        "<stdin>:5: text: missing or not a non-empty string",
        "<stdin>:6: text: missing or not a non-empty string",
        "<stdin>:7: text: missing or not a non-empty string",
    ]


def test_read_texts_uses_the_given_name():
    with pytest.raises(DataError) as info:
        read_texts(io.StringIO("{}\n"), "data/new.jsonl")
    assert str(info.value) == "1 invalid rows:\ndata/new.jsonl:1: text: missing or not a non-empty string"


# ---------------------------------------------------------------- which task predict uses


def test_predict_uses_the_task_saved_with_the_model(tmp_path, monkeypatch, capsys):
    """A merged checkpoint answers with the prompt it was trained on, even after params.yaml moved on."""
    model = tmp_path / "merged"
    model.mkdir()
    profile = load_task("user_profile")
    save_model_task(profile, 96, model)
    monkeypatch.chdir(REPO)  # params.yaml selects support_ticket
    params, schema, prompt = prediction_setup(str(model), None)
    assert (schema, prompt) == (profile.schema, profile.system_prompt)
    assert params.generation.max_new_tokens == 48  # generation settings still come from the params file
    assert "was trained for task 'user_profile'" in capsys.readouterr().err


def test_predict_without_a_params_file(tmp_path, monkeypatch, capsys):
    """A copied checkpoint runs anywhere: no params.yaml, the saved task and max_new_tokens."""
    model = tmp_path / "merged"
    model.mkdir()
    ticket = load_task("support_ticket")
    save_model_task(ticket, 40, model)
    monkeypatch.chdir(tmp_path)
    params, schema, prompt = prediction_setup(str(model), None)
    assert (schema, prompt, params.generation.max_new_tokens) == (ticket.schema, ticket.system_prompt, 40)
    assert capsys.readouterr().err == ""
    with pytest.raises(ParamsError, match="other.yaml: params file not found"):
        prediction_setup(str(model), "other.yaml")  # a named params file must exist


def test_predict_without_a_saved_task_reads_the_params(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError, match="params.yaml: params file not found"):
        prediction_setup(str(tmp_path), None)
    monkeypatch.chdir(REPO)
    _, schema, prompt = prediction_setup(str(tmp_path), None)
    assert (schema, prompt) == (load_task("support_ticket").schema, load_task("support_ticket").system_prompt)
