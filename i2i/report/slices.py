"""The report's held-out images: the figures the final evaluation wrote
(:mod:`i2i.evaluation.slices`, ``RUN/eval_slices/``), embedded at their own resolution (never
scaled down), each captioned with its image, region, view (the display window) and metrics."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from i2i.evaluation.slices import FOLDER, INDEX
from i2i.runs.rundir import read_json

STYLE = (".slices{overflow-x:auto}.slices img{max-width:none;image-rendering:pixelated;border:1px solid #ddd}"
         ".slices figcaption b{color:#222}")


def slices_section(run: Path) -> str:
    """The "Held-out slices" section, or "" when the run has none."""
    index = read_json(run / FOLDER / INDEX)
    if not index or not index.get("slices"):
        return ""
    figures = []
    for entry in index["slices"]:
        path = run / FOLDER / str(entry.get("file", ""))
        if not path.is_file():
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        view = str(entry.get("view", ""))
        where = f"{entry.get('region')} " if entry.get("region") else ""
        size = "x".join(str(s) for s in entry.get("size", []))
        figures.append(
            f'<figure class="slices" data-view="{_e(view)}" data-region="{_e(str(entry.get("region") or ""))}">'
            f'<img alt="{_e(where + view)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{_e(view)}</b>: {_e(where)}image {entry.get('index')} "
            f"({_e(str(entry.get('path')))}, {_e(size)} pixels, the {_e(str(entry.get('why', '')))}); "
            f"input | output | target, below: the centre, {index.get('zoom', '?')}x. "
            f"{_e(_metrics_line(entry.get('metrics', {})))}</figcaption></figure>")
    if not figures:
        return ""
    return ("<h2>Held-out slices</h2><p class=\"meta\">Representative images of the final evaluation, chosen by "
            f"{_e(str(index.get('ranked_by')))} per region, at the resolution they were scored at, in the windows "
            "a reader views them in.</p>" + "".join(figures))


def _metrics_line(metrics: dict[str, dict[str, float]]) -> str:
    model, base = metrics.get("model", {}), metrics.get("input", {})
    parts = []
    for name, value in model.items():
        text = f"{name} {_fmt(value)}"
        if name in base:
            text += f" (input {_fmt(base[name])})"
        parts.append(text)
    return "; ".join(parts)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and math.isfinite(value) else "n/a"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
