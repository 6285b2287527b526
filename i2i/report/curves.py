"""Training curves from ``metrics.jsonl`` drawn as PNG plots (matplotlib, no global state:
figures are made with :class:`matplotlib.figure.Figure` on an Agg canvas, never pyplot)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

#: Keys of ``metrics.jsonl`` lines that are not curves.
NOT_CURVES = ("step", "epoch", "data_skipped")


def series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of ``key`` over the records that hold a number for it."""
    steps, values = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and "step" in r:
            steps.append(int(r["step"]))
            values.append(float(v))
    return steps, values


def curve_groups(records: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The plots to draw and the keys each shows: ``losses`` (``loss_*``), ``learning rate``
    (``lr_*``), ``throughput`` (``images_per_s``), the discriminator's health
    (``gan_d_real``, ``gan_d_fake``, ``gan_d_accuracy``) and one plot per validation metric with
    the model (``val_NAME``) and the identity baseline (``val_input_NAME``) together."""
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys and k not in NOT_CURVES]
    groups: dict[str, list[str]] = {}
    losses = [k for k in keys if k.startswith("loss_")]
    if losses:
        groups["losses"] = losses
    rates = [k for k in keys if k.startswith("lr_")]
    if rates:
        groups["learning rate"] = rates
    if "images_per_s" in keys:
        groups["throughput (images/s)"] = ["images_per_s"]
    health = [k for k in ("gan_d_real", "gan_d_fake", "gan_d_accuracy") if k in keys]
    if health:
        groups["discriminator: mean output on real / generated pairs, accuracy"] = health
    for k in keys:
        if k.startswith("val_") and not k.startswith("val_input_"):
            name = k[len("val_"):]
            groups[f"validation {name}"] = [k] + ([f"val_input_{name}"] if f"val_input_{name}" in keys else [])
    return groups


def plot_png(records: Sequence[dict[str, Any]], title: str, keys: Sequence[str], log_y: bool = False,
             size: tuple[float, float] = (5.0, 3.2), dpi: int = 100) -> bytes:
    """One line plot of ``keys`` against the step, as PNG bytes. Baseline keys
    (``val_input_*``) are dashed and labelled ``input (baseline)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for key in keys:
        steps, values = series(records, key)
        if not steps:
            continue
        baseline = key.startswith("val_input_")
        label = "input (baseline)" if baseline else ("model" if key.startswith("val_") else key)
        axes.plot(steps, values, linestyle="--" if baseline else "-", marker="." if len(steps) < 30 else None,
                  label=label, linewidth=1.2)
    if log_y and all(v > 0 for k in keys for v in series(records, k)[1]):
        axes.set_yscale("log")
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("step")
    axes.grid(alpha=0.3)
    if len(keys) > 1:
        axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
