"""The held-out images of the report: a few representative images of the final evaluation,
shown as a reader looks at them (CT: a head in the brain and the bone window, a trunk in the
soft-tissue window; :meth:`i2i.tasks.Task.reading_views`).

:func:`pick` chooses them from the evaluation's rows, deterministically: per region (the
``region`` column; all rows together without one), the image at the median of the model's
``psnr`` and, with at least :data:`QUARTILE_FROM` images, the one at the lower quartile (a
harder case); ties go to the lower index. :func:`write_slices` runs the model on them again,
exactly as the evaluation did (same data path, frame and pixel-size handling), and writes for
each image and view one PNG into ``RUN/eval_slices/``: ``input | output | target`` at the
scored resolution, one pixel per pixel, above a zoomed crop of their centre (the middle third,
each pixel shown :data:`ZOOM` x :data:`ZOOM`), plus ``slices.json`` naming each file's image,
region, view (the window) and that image's metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset, Subset

from i2i.assembly import datapath
from i2i.data.loader import same_size_batches
from i2i.evaluation.measure import modes, score_batches
from i2i.grids import grid_image
from i2i.inference.model import LoadedModel
from i2i.metrics import MetricTable

FOLDER = "eval_slices"
INDEX = "slices.json"
#: Images shown per region: the median one, and the lower-quartile one from this many images on.
QUARTILE_FROM = 4
#: How much the centre crop is magnified (it is the middle 1 / ZOOM of each side).
ZOOM = 3
#: The metric images are ranked by.
RANK_BY = "psnr"


def pick(rows: list[dict[str, Any]], metric: str = RANK_BY) -> list[tuple[int, str]]:
    """``(row index, why)`` of the images to show (see the module docstring), region by region
    in order of first appearance; ``why`` is "median" or "lower quartile" of ``metric``."""
    by_region: dict[str, list[tuple[float, int]]] = {}
    for i, row in enumerate(rows):
        value = row.get(f"model_{metric}")
        if value is not None and math.isfinite(value):
            by_region.setdefault(str(row.get("region", "")), []).append((float(value), i))
    picks: list[tuple[int, str]] = []
    for ranked in by_region.values():
        ranked.sort()
        picks.append((ranked[(len(ranked) - 1) // 2][1], "median"))
        if len(ranked) >= QUARTILE_FROM:
            quartile = ranked[(len(ranked) - 1) // 4][1]
            if quartile != picks[-1][0]:
                picks.append((quartile, "lower quartile"))
    return picks


def write_slices(model: LoadedModel, rows: list[dict[str, Any]], run_dir: Path, dataset: Callable[[], Dataset],
                 table: MetricTable) -> list[dict[str, Any]]:
    """Write the chosen images of an evaluation (``rows``, scored on ``dataset()``) into
    ``run_dir/eval_slices/`` and its ``slices.json``; returns the index's entries (none when the
    task has no views for them: the folder is then not made)."""
    task = model.task
    folder = Path(run_dir) / FOLDER
    for old in [*folder.glob("*_view*.png"), folder / INDEX] if folder.is_dir() else []:
        old.unlink(missing_ok=True)  # an earlier evaluation's
    picks = [(i, why) for i, why in pick(rows) if task.reading_views(rows[i].get("region"))]
    if not picks:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    subset = Subset(dataset(), [rows[i]["index"] for i, _ in picks])
    pipeline = datapath.pipeline(model.recipe, task, model.device)
    generators = {"model": model.generator}
    entries = []
    with modes(generators, False):
        batches = score_batches(same_size_batches(subset, 1), pipeline, task, generators, table, baseline=False,
                                pixel_range=model.pixel_range)
        for (i, why), scored in zip(picks, batches):
            row = rows[i]
            images = (task.decode_input(scored.x), task.finalize_output(task.decode_output(scored.x,
                      scored.outputs["model"])), task.finalize_output(task.decode_output(scored.x, scored.y)))
            for v, (label, show) in enumerate(task.reading_views(row.get("region"))):
                name = f"{len(entries):02d}_{row.get('region') or 'image'}_{row['index']:04d}_view{v}.png"
                Image.fromarray(figure([show(image.float())[0] for image in images])).save(folder / name)
                entries.append({"file": name, "index": row["index"], "path": row.get("path"),
                                "region": row.get("region"), "view": label, "why": f"{why} {RANK_BY}",
                                "size": list(scored.x.shape[-2:]), "metrics": _metrics_of(row, table)})
    (folder / INDEX).write_text(json.dumps({"format": "i2i.eval_slices.v1", "ranked_by": RANK_BY, "zoom": ZOOM,
                                            "slices": entries}, indent=2) + "\n")
    return entries


def figure(panels: list[torch.Tensor]) -> Any:
    """``input | output | target`` ((C, H, W) in [0, 1] each) above their centre crops, the
    middle 1 / :data:`ZOOM` of each side magnified :data:`ZOOM` times (nearest neighbour): an
    RGB uint8 array."""
    top, left, ch, cw = crop_box(*panels[0].shape[-2:])
    crops = [p[..., top:top + ch, left:left + cw].repeat_interleave(ZOOM, -2).repeat_interleave(ZOOM, -1)
             for p in panels]
    return grid_image([panels, crops])


def crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the zoomed centre crop of an image of that size."""
    ch, cw = max(1, height // ZOOM), max(1, width // ZOOM)
    return (height - ch) // 2, (width - cw) // 2, ch, cw


def _metrics_of(row: dict[str, Any], table: MetricTable) -> dict[str, dict[str, float]]:
    """The row's ``psnr`` and the metrics that apply to some images only (a region's), where they
    apply: ``{"model": {...}, "input": {...}}``."""
    names = [RANK_BY, *(n for n in table.names() if table.get(n).applies is not None)]
    out: dict[str, dict[str, float]] = {}
    for who in ("model", "input"):
        values = {n: row[f"{who}_{n}"] for n in names if row.get(f"{who}_{n}") is not None}
        if values:
            out[who] = values
    return out
