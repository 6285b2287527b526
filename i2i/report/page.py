"""``report.html``: one self-contained page (inline CSS, images as ``data:`` URIs, no
scripts or files fetched) that opens offline in any browser.

It shows, from the run directory: the final metrics table (``eval.json``: model and
identity baseline; without it, the last validation pass in ``metrics.jsonl``), the held-out
images the final evaluation chose, in the views a reader uses (``eval_slices/``), loss,
learning-rate and metric curves, ``input | output | target`` grids of the fixed
validation images at several steps (``samples/``), the model summary (rebuilt from the
resolved recipe), the checkpoints, and the resolved recipe itself.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import re
from pathlib import Path
from typing import Any

from i2i import atomic
from i2i.assembly.components import build_task
from i2i.assembly.describe import component_details, describe_recipe
from i2i.errors import UsageError
from i2i.metrics import MetricTable
from i2i.plugins import get_plugins
from i2i.recipe import load_recipe
from i2i.report.curves import curve_groups, plot_png
from i2i.report.slices import STYLE as SLICES_STYLE
from i2i.report.slices import slices_section
from i2i.runs.checkpoint import list_checkpoints
from i2i.runs.rundir import MetricsLog, read_best, read_json
from i2i.version import __version__

#: Sample grids shown: evenly spread over the run, always including the last.
MAX_GRIDS = 4
#: Sample grids wider than this are scaled down before embedding (keeps the page small).
MAX_GRID_WIDTH = 1024

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}td.num{text-align:right}
th{background:#f3f3f3}
.better{color:#11772b;font-weight:600}.worse{color:#b3261e}
.meta{color:#666}.curves img{width:48%;margin:.5%}figure{margin:1em 0}figcaption{color:#555}
img.grid{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}
"""

#: Sets ``data-images-loaded`` / ``data-images-total`` on <body> once the page has loaded,
#: so a headless browser can check every embedded image decoded.
_LOAD_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.setAttribute("data-images-total", images.length);
  document.body.setAttribute("data-images-loaded",
    images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length);
});
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` for ``run_dir`` (or to ``out``) atomically; returns its path."""
    run = Path(run_dir)
    if not (run / "recipe.toml").exists():
        raise UsageError(f"{run_dir}: not a run directory (no recipe.toml in it)")
    path = Path(out) if out else run / "report.html"
    return atomic.write_text(path, render(run))


def render(run: Path) -> str:
    """The page's HTML for the run directory ``run``."""
    records = MetricsLog(run / "metrics.jsonl").read()
    table = _metric_table(run)
    evaluation = read_json(run / "eval.json")
    recipe_text = (run / "recipe.toml").read_text()
    last_step = max((int(r["step"]) for r in records if "step" in r), default=None)
    parts = [
        f"<h1>i2i run report: {_e(run.resolve().name)}</h1>",
        f'<p class="meta">{_e(_recipe_line(recipe_text))} &middot; last logged step {last_step} &middot; '
        f'written {_dt.datetime.now().strftime("%Y-%m-%d %H:%M")} by i2i {__version__}</p>',
        _metrics_section(evaluation, records, table),
        slices_section(run),
        _curves_section(records),
        _samples_section(run / "samples"),
        _summary_section(run),
        _checkpoints_section(run),
        f"<h2>Recipe</h2><p class=\"meta\">{_e(str(run / 'recipe.toml'))}</p><pre>{_e(recipe_text)}</pre>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>i2i report: {_e(run.resolve().name)}</title><style>{_STYLE}{SLICES_STYLE}</style>"
            f"<script>{_LOAD_CHECK}</script></head>\n<body>\n" + "\n".join(p for p in parts if p) +
            "\n</body></html>\n")


def _recipe_line(text: str) -> str:
    found = {}
    for section in ("task", "generator", "discriminator"):
        match = re.search(rf"^\[{section}\]\s*\nname = \"([^\"]+)\"", text, re.M)
        if match:
            found[section] = match.group(1)
    return ", ".join(f"{k} {v}" for k, v in found.items()) or "recipe"


# -- metrics --------------------------------------------------------------------------------------

def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4g}"


def _metric_table(run: Path) -> MetricTable | None:
    """The run's metric table (which way each metric improves), rebuilt from its recipe; None
    when that is impossible (a plugin it names is gone): the report is still written."""
    try:
        plugins = get_plugins()
        recipe = load_recipe(run / "recipe.toml", [], plugins)
        return MetricTable.registered(plugins["metrics"], build_task(plugins, recipe))
    except Exception:  # noqa: BLE001 - the report must still be written
        return None


def _metrics_section(evaluation: dict[str, Any] | None, records: list[dict[str, Any]],
                     table: MetricTable | None) -> str:
    if evaluation and evaluation.get("metrics"):
        return _eval_table(evaluation)
    validation = [r for r in records if any(k.startswith("val_") for k in r)]
    if not validation:
        return ("<h2>Final metrics</h2><p>No evaluation (eval.json) and no validation pass in this run; "
                "measure it with <code>i2i eval RUN_DIR</code>.</p>")
    last = validation[-1]
    rows = []
    for key in sorted(k for k in last if k.startswith("val_") and not k.startswith("val_input_")):
        name = key[len("val_"):]
        base = last.get(f"val_input_{name}")
        rows.append((name, last[key], None, base, None))
    better = {name: table.higher_is_better(name) for name, *_ in rows if name in table} if table else {}
    return (f"<h2>Final metrics</h2><p class=\"meta\">Last validation pass, step {last.get('step')} "
            "(no eval.json in the run directory).</p>" + _table(rows, better))


def _eval_table(evaluation: dict[str, Any]) -> str:
    metrics = evaluation["metrics"]
    model, baseline = metrics.get("model", {}), metrics.get("input", {})
    better = evaluation.get("higher_is_better", {})
    rows = []
    for name in sorted(model):
        m, b = model[name], baseline.get(name)
        skipped = m.get("not_applicable")
        if skipped and skipped == evaluation.get("images"):
            continue  # meant for none of these images (a brain window on trunks only)
        note = f"on {m.get('count')} of {evaluation.get('images')} images (not applicable to {skipped})" \
            if skipped else ""
        rows.append((name, m.get("mean"), m.get("std"), b.get("mean") if b else None, b.get("std") if b else None,
                     note))
    regions = evaluation.get("regions")
    where = f" ({', '.join(f'{n} {r}' for r, n in regions.items())})" if regions else ""
    head = (f"<h2>Final metrics</h2><p class=\"meta\">eval.json: {evaluation.get('images')} image(s){_e(where)} of "
            f"split <b>{_e(str(evaluation.get('split')))}</b>, step {evaluation.get('step')}, "
            f"{_e(str(evaluation.get('weights')))}, {evaluation.get('mode')} mode"
            + (f"; checkpoint {_e(str(evaluation['checkpoint_choice']))}"
               if evaluation.get("checkpoint_choice") else "")
            + "</p>")
    warnings = "".join(f"<p class=\"worse\">warning: {_e(w)}</p>" for w in evaluation.get("warnings", []))
    notes = "".join(f"<li>{_e(n)}</li>" for n in evaluation.get("notes", []))
    notes += "".join(f"<li>{_e(name)}: {_e(doc)}</li>" for name, doc in evaluation.get("definitions", {}).items())
    return head + warnings + _table(rows, better) + (f"<ul class=\"meta\">{notes}</ul>" if notes else "")


def _table(rows: list[tuple], higher_is_better: dict[str, bool]) -> str:
    """Model against baseline per metric; a difference is coloured where the metric's direction is known."""
    has_baseline = any(r[3] is not None for r in rows)
    out = ['<table id="metrics"><tr><th>metric</th><th>model</th>']
    if has_baseline:
        out.append("<th>input (baseline)</th><th>model &minus; input</th>")
    out.append("</tr>")
    for name, mean, std, base, base_std, *note in rows:
        cell = _fmt(mean) + (f" &plusmn; {_fmt(std)}" if std is not None else "")
        label = _e(name) + (f' <span class="meta">{_e(note[0])}</span>' if note and note[0] else "")
        out.append(f"<tr><td>{label}</td><td class=\"num\">{cell}</td>")
        if has_baseline:
            base_cell = _fmt(base) + (f" &plusmn; {_fmt(base_std)}" if base_std is not None else "")
            diff, css = "", ""
            if mean is not None and base is not None and math.isfinite(mean) and math.isfinite(base):
                d = mean - base
                diff = f"{d:+.4g}"
                up = higher_is_better.get(name)
                css = "" if up is None or d == 0 else ("better" if (d > 0) == up else "worse")
            out.append(f"<td class=\"num\">{base_cell}</td><td class=\"num {css}\">{diff}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


# -- curves, samples ----------------------------------------------------------------------------

def _png_tag(data: bytes, alt: str, css: str = "") -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img class="{css}" alt="{_e(alt)}" src="data:image/png;base64,{encoded}">'


def _curves_section(records: list[dict[str, Any]]) -> str:
    groups = curve_groups(records)
    if not groups:
        return "<h2>Curves</h2><p>Nothing logged yet (metrics.jsonl is empty).</p>"
    images = [_png_tag(plot_png(records, title, keys, log_y=title == "losses"), title)
              for title, keys in groups.items()]
    return '<h2>Curves</h2><div class="curves">' + "".join(images) + "</div>"


def sample_grids(folder: Path, limit: int = MAX_GRIDS) -> list[tuple[int, list[Path]]]:
    """``(step, files)`` of up to ``limit`` sample steps spread evenly over the run, the last
    included (a step has several files when its images differ in size)."""
    by_step: dict[int, list[Path]] = {}
    for f in sorted(folder.glob("step_*.png")) if folder.is_dir() else []:
        match = re.fullmatch(r"step_(\d+)(?:_\d+)?\.png", f.name)
        if match:
            by_step.setdefault(int(match.group(1)), []).append(f)
    steps = sorted(by_step)
    if len(steps) > limit:
        picks = sorted({steps[round(i * (len(steps) - 1) / (limit - 1))] for i in range(limit)})
        steps = picks
    return [(s, by_step[s]) for s in steps]


def _scaled_png(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as image:
        if image.width <= MAX_GRID_WIDTH:
            return path.read_bytes()
        scale = MAX_GRID_WIDTH / image.width
        small = image.resize((MAX_GRID_WIDTH, max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        small.save(buffer, format="PNG")
        return buffer.getvalue()


def _samples_section(folder: Path) -> str:
    grids = sample_grids(folder)
    if not grids:
        return "<h2>Samples</h2><p>No sample grids in samples/.</p>"
    figures = []
    for step, files in grids:
        images = "".join(_png_tag(_scaled_png(f), f"samples at step {step}", "grid") for f in files)
        figures.append(f"<figure>{images}<figcaption>step {step}: input | output | target</figcaption></figure>")
    return "<h2>Samples (validation images)</h2>" + "".join(figures)


# -- model summary, checkpoints ----------------------------------------------------------------

def _summary_section(run: Path) -> str:
    try:
        plugins = get_plugins()
        result = describe_recipe(load_recipe(run / "recipe.toml", [], plugins), plugins)
    except Exception as exc:  # the report must still be written when a plugin is gone
        return f"<h2>Model</h2><p class=\"worse\">The model summary could not be rebuilt: {_e(str(exc))}</p>"
    rows = ["<table id=\"model\"><tr><th>role</th><th>name</th><th>parameters</th><th>details</th>"
            "<th>options</th></tr>"]
    for c in result["components"]:
        name, details = component_details(c)
        options = ", ".join(f"{k}={v!r}" for k, v in c["options"].items())
        params = f"{c['parameters']:,}" if "parameters" in c else ""
        rows.append(f"<tr><td>{_e(c['role'])}</td><td>{_e(name)}</td><td class=\"num\">{params}</td>"
                    f"<td>{_e('; '.join(details))}</td><td>{_e(options)}</td></tr>")
    return "<h2>Model</h2>" + "".join(rows) + "</table>"


def _checkpoints_section(run: Path) -> str:
    folder = run / "checkpoints"
    found = list_checkpoints(folder) if folder.is_dir() else []
    if not found:
        return ""
    best = read_best(run) or {}
    items = "".join(f"<li>{_e(p.name)}" + (" (best)" if best.get("folder") == p.name else "") + "</li>"
                    for _, p in found)
    extra = f"<p class=\"meta\">best by {_e(str(best.get('metric')))}: {_e(str(best.get('value')))}</p>" \
        if best else ""
    return f"<h2>Checkpoints</h2><ul>{items}</ul>{extra}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
