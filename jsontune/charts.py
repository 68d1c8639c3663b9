"""PNG charts for the report and the README, drawn with matplotlib's file-only Agg backend.

Inputs are the stages' metrics and predictions and the training curves DVCLive wrote, so the charts
can be redrawn without a model. PNG metadata carries no version or date, so an unchanged input gives
an unchanged file.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jsontune.report import HEADLINE, INVALID, confusion, confusion_field, decoding_modes

_PNG = {"format": "png", "dpi": 110, "metadata": {"Software": None}}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(ax: Any, groups: Sequence[str], series: Mapping[str, Sequence[float | None]], title: str) -> None:
    width = 0.8 / max(len(series), 1)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [v if v is not None else 0.0 for v in values], width, label=name)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")


def stage_metrics_chart(stages: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    modes = ["free", *decoding_modes(stages)]
    plt = _plt()
    fig, axes = plt.subplots(1, len(modes), figsize=(5.5 * len(modes), 4), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        series = {s: [(m if mode == "free" else m.get(mode, {})).get(k) for k in HEADLINE] for s, m in stages.items()}
        _bars(ax, list(HEADLINE), series, f"Test metrics per stage ({mode} decoding)")
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)
    return path


def per_field_chart(stages: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    fields = list(next(iter(stages.values()))["per_field"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(fields) + 2), 4))
    _bars(ax, fields, {s: [m["per_field"].get(f) for f in fields] for s, m in stages.items()},
          "Per-field accuracy (free decoding)")
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)
    return path


def confusion_chart(matrix: Mapping[str, Mapping[str, int]], field: str, stage: str, path: Path) -> Path:
    gold = list(matrix)
    cols = [*gold, INVALID]
    values = [[matrix[g][c] for c in cols] for g in gold]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(cols), 1.0 + 0.5 * len(gold)))
    ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize="small")
    ax.set_yticks(range(len(gold)), gold, fontsize="small")
    peak = max((v for row in values for v in row), default=0)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize="x-small",
                        color="white" if v > peak / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"{field} confusion ({stage}, free decoding)")
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)
    return path


def read_curve(path: Path) -> tuple[list[float], list[float]]:
    """``step<TAB>value`` rows as DVCLive writes them."""
    steps, values = [], []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            steps.append(float(row["step"]))
            values.append(float(row[next(k for k in row if k not in ("step", "timestamp"))]))
    return steps, values


def loss_chart(curves: Mapping[str, Path], path: Path) -> Path | None:
    present = {s: d / "loss.tsv" for s, d in curves.items() if (d / "loss.tsv").is_file()}
    if not present:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 3.5), squeeze=False)
    for ax, (stage, tsv) in zip(axes[0], present.items(), strict=True):
        steps, values = read_curve(tsv)
        ax.plot(steps, values, marker="." if len(steps) < 30 else None)
        ax.set_title(f"{stage.upper()} training loss")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)
    return path


def write_charts(stages: Mapping[str, Mapping[str, Any]], examples: Mapping[str, Sequence[Mapping[str, Any]]],
                 schema: Mapping[str, Any], curves: Mapping[str, Path], out_dir: Path) -> dict[str, Path]:
    """Every chart the report embeds, by name; the confusion matrix is for the last stage."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {"stage metrics": stage_metrics_chart(stages, out_dir / "stage_metrics.png"),
               "per-field accuracy": per_field_chart(stages, out_dir / "per_field.png")}
    field = confusion_field(schema)
    if field:
        stage = list(stages)[-1]
        matrix = confusion(examples[stage], field, schema["properties"][field]["enum"])
        figures[f"{field} confusion"] = confusion_chart(matrix, field, stage, out_dir / "confusion.png")
    loss = loss_chart(curves, out_dir / "loss_curves.png")
    if loss:
        figures["training loss"] = loss
    return figures
