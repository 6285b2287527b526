"""What ``i2i eval`` writes: ``eval.json`` (per-metric statistics over the images and the
protocol they were measured with) and the per-image ``eval.csv``."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from i2i import atomic
from i2i.assembly import datapath
from i2i.image_metrics import PSNR_CAP
from i2i.metrics import MetricTable
from i2i.nn.symmetry_average import averaging_description
from i2i.version import __version__

#: The folder of a run directory holding its evaluations on other data (``i2i eval --data``).
EVALS = "evals"

if TYPE_CHECKING:
    from i2i.evaluation.options import EvalOptions, EvalResult
    from i2i.inference.model import LoadedModel


def _stats(values: list[float | None]) -> dict[str, float | None]:
    """Statistics over the finite values; ``count`` of them and, when some images are not
    meant for the metric (their value ``None``), ``not_applicable``: how many."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    skipped = sum(v is None for v in values)
    extra = {"not_applicable": skipped} if skipped else {}
    if not finite:
        return {"mean": None, "std": None, "min": None, "max": None, "count": 0, **extra}
    t = torch.tensor(finite, dtype=torch.float64)
    return {"mean": float(t.mean()), "std": float(t.std(unbiased=False)), "min": float(t.min()),
            "max": float(t.max()), "count": len(finite), **extra}


def eval_summary(model: LoadedModel, split: str, rows: list[dict[str, Any]], notes: list[str],
              options: EvalOptions, table: MetricTable) -> dict[str, Any]:
    """``eval.json``'s content: per-metric statistics over ``rows`` and how they were measured."""
    metrics: dict[str, dict[str, Any]] = {}
    for key in rows[0]:
        who, _, name = key.partition("_")
        if who in ("model", "input") and name:
            metrics.setdefault(who, {})[name] = _stats([r[key] for r in rows])
    names = sorted({name for table in metrics.values() for name in table})
    regions = Counter(r["region"] for r in rows if "region" in r)
    return {
        "format": "i2i.eval.v1",
        "i2i_version": __version__,
        "checkpoint": str(model.checkpoint),
        "weights": model.weights.name,
        "step": model.step,
        "task": model.recipe.task.name,
        "generator": model.recipe.generator.name,
        "data": model.recipe.data_root or model.recipe.source.name,
        "data_from": options.data_from,
        "split": split,
        "images": len(rows),
        "mode": "train" if options.train_mode else "eval",
        "precision": options.precision,
        "protocol": protocol(model, split, options),
        "baseline": "input" in metrics,
        **({"regions": dict(sorted(regions.items()))} if regions else {}),
        "metrics": metrics,
        "higher_is_better": {name: table.higher_is_better(name) for name in names},
        "definitions": {name: table.get(name).doc for name in names if name in table and table.get(name).doc},
        "warnings": notes,
        "notes": [
            f"mean/std/min/max over images (population std); PSNR of identical images is capped at {PSNR_CAP:g} dB",
            "mae, psnr, ssim, ms_ssim: on the task's output images in data units (task.decode_output); "
            "the task's own metrics replace those it also defines",
            "input: the identity baseline (the network input taken as the output)"
            if "input" in metrics else "no identity baseline: input and target are in different spaces",
            *(["not_applicable: images a metric is not meant for (a brain window on a trunk slice: see "
               "definitions); their value is empty in eval.csv and left out of the statistics"]
              if any("not_applicable" in stats for table in metrics.values() for stats in table.values()) else []),
        ],
    }


def protocol(model: LoadedModel, split: str, options: EvalOptions) -> dict[str, Any]:
    """How the numbers were measured, for ``eval.json``: what was scored and at which size,
    how inputs were made and which metric definitions were used."""
    d, frame = model.recipe.data, options.frame or model.recipe.train.eval_frame
    if frame == "crop":
        size = f"the centre {d.crop_size} x {d.crop_size} window of the image decoded as in training ({d.preprocess})"
    elif d.preprocess == "resize_and_crop":
        size = f"the whole image resized to {d.crop_size} x {d.crop_size} (the training crop size)"
    elif d.preprocess.startswith("scale_width"):
        size = f"the whole image scaled to {d.crop_size} pixels wide, aspect kept"
    else:
        size = "the whole image at its own size"
    return {
        "frame": frame,
        "scored": size,
        "split": split if split != datapath.WHOLE_DATA else "every sample of the data folder (no split folders)",
        "pairs": f"made per image from seed (run.seed = {model.recipe.run.seed}, image index): independent of the "
                 "batch size; the same pairs validation scores",
        "metrics": "i2i.metrics: PSNR over all pixels; SSIM with an 11x11 Gaussian window (sigma 1.5) over the "
                   "valid window positions (skimage's gaussian_weights=True, use_sample_covariance=False); "
                   "MS-SSIM with 5 scales (fewer on small images)",
        "mode": "train (each image normalised on its own)" if options.train_mode else "eval",
        "pixel_size": pixel_size_protocol(model, options),
        "test_time": averaging_protocol(model, options),
    }


def averaging_protocol(model: LoadedModel, options: EvalOptions) -> str:
    """Whether the output is one pass of the generator or a test-time average (``augment.test_time``)."""
    described = None if options.train_mode else averaging_description(model.generator)
    return f"per image, {described}" if described else "one pass of the generator per image"


def pixel_size_protocol(model: LoadedModel, options: EvalOptions) -> str:
    """How images of another pixel size than the training data's were handled."""
    trained = model.pixel_range
    if trained is None:
        return "no physical pixel size (the training data had none)"
    span = f"trained at {trained.low:.3g}-{trained.high:.3g} mm pixels"
    if options.native:
        return f"{span}; every image scored at its own pixel size without resampling (--native)"
    return (f"{span}; images outside that range are resampled to its nearest end for the model and back, then "
            "scored at their own resolution")


def default_output(model: LoadedModel, other_data: str | None = None, summary: dict[str, Any] | None = None) -> Path:
    """Where ``i2i eval`` writes without ``--out``. The run's own data: ``RUN/eval.json``. Other
    data (``other_data``: the ``--data`` folder's or the ``--split-from`` run's name):
    ``RUN/evals/NAME/eval.json``, with ``-2``, ``-3``... when that folder holds the result of
    other data (``summary["data"]``), so the run's own evaluation and other results are never
    overwritten. A checkpoint outside a run directory writes under ``./`` instead of ``RUN/``."""
    base = model.run_dir or Path(".")
    if other_data is None:
        return base / "eval.json"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", other_data).strip("._") or "data"
    candidate, n = base / EVALS / name / "eval.json", 1
    while candidate.exists() and not _same_data(candidate, summary or {}):
        n += 1
        candidate = base / EVALS / f"{name}-{n}" / "eval.json"
    return candidate


def _same_data(path: Path, summary: dict[str, Any]) -> bool:
    """Whether ``eval.json`` at ``path`` scored the data ``summary`` scored (a re-evaluation)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and all(old.get(k) == summary.get(k) for k in ("data", "data_from", "split"))


def write_result(result: EvalResult, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (JSON summary) and the per-image CSV beside it (same name, ``.csv``),
    each atomically (:mod:`i2i.atomic`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = path.with_suffix(".csv")
    result.summary["per_image_csv"] = table.name
    atomic.write_text(path, json.dumps(_finite(result.summary), indent=2) + "\n")
    columns = list(result.rows[0]) if result.rows else ["index", "path"]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for row in result.rows:
        writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic.write_text(table, text.getvalue())
    return path, table


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def metric_gaps(summary: dict) -> list[str]:
    """A warning per metric that is n/a for some images (NaN or infinite: a broken model or
    bad data), which a mean over the other images would hide. Images a metric is not meant
    for (``not_applicable``: a brain window on a trunk) are expected, not warned about."""
    notes = []
    images = summary.get("images", 0)
    for who, table in summary.get("metrics", {}).items():
        for name, stats in sorted(table.items()):
            missing = images - int(stats.get("count") or 0) - int(stats.get("not_applicable") or 0)
            if images and missing > 0:
                what = "n/a" if missing == images else f"n/a for {missing} of {images} image(s)"
                notes.append(f"{name} of the {who} is {what}: its values are NaN or infinite (check the "
                             "checkpoint's weights and the data)")
    return notes
