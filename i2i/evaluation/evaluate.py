"""``i2i eval``: metrics of a trained generator on held-out pairs, and of the identity baseline.

The protocol (recorded in ``eval.json``): pairs come from the data path training uses
(:mod:`i2i.data.datapath`: the recipe's source, ``data.root`` possibly overridden, the
same deterministic hold-out splits); each image is scored on its ``full`` frame at the
training scale (the pix2pix test protocol; ``--frame crop`` scores the centre training
crop instead); inputs a task makes (masks, noise, CT physics) are drawn per image from the
seed ``(run.seed, image index)``; metrics are the suite of :mod:`i2i.evaluation.metrics`,
the one validation uses. So per-image results do not depend on the batch size and equal
a run's validation on the same split and weights. ``--data FOLDER`` without split
folders scores every sample in it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from i2i import __version__
from i2i.data import datapath
from i2i.data.loader import same_size_batches
from i2i.data.resize import EVAL_FRAMES
from i2i.errors import UsageError, one_of
from i2i.evaluation.measure import modes, score_batches
from i2i.inference.model import LoadedModel
from i2i.inference.predict import PRECISIONS
from i2i.metrics import PSNR_CAP, higher_is_better
from i2i.plugins import Plugins, get_plugins

#: Split preference when none is named: held-out test data, then validation data, then
#: (with a warning in the result) the training data.
SPLIT_ORDER = ("test", "val", "train")


@dataclass(frozen=True)
class EvalOptions:
    """What ``i2i eval`` measures and how."""

    split: str | None = None
    batch_size: int = 1
    max_images: int | None = None
    train_mode: bool = False
    precision: str = "fp32"
    held_out_only: bool = False  # with no split named: test or val, else NoHeldOutSplit
    frame: str | None = None  # full or crop; None: the recipe's train.eval_frame
    whole_data: bool = False  # --data given: a root without split folders is scored whole
    inception: Path | None = None
    lpips: Path | None = None
    lpips_net: str = "alex"


@dataclass
class EvalResult:
    """The summary (``eval.json``'s content) and one row per image."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)


class NoHeldOutSplit(UsageError):
    """The data have neither a test nor a val split (and only held-out data were asked for)."""


def choose_split(available: list[str], requested: str | None, held_out_only: bool = False) -> tuple[str, list[str]]:
    """The split to evaluate and notes about the choice; with ``held_out_only``, no split
    named and neither test nor val present, :class:`NoHeldOutSplit`."""
    if held_out_only and requested is None and not any(name in available for name in SPLIT_ORDER[:2]):
        raise NoHeldOutSplit(f"no held-out split among {one_of(available)}")
    if requested is not None:
        if requested not in available:
            raise UsageError(f"--split: {requested!r} is not a split of this data; it has {one_of(available)} "
                             "(held-out splits come from data.val_fraction / data.test_fraction or from "
                             "val/ and test/ folders)")
        return requested, []
    for name in SPLIT_ORDER:
        if name in available:
            notes = []
            if name == "train":
                notes.append("no held-out split (set data.test_fraction or data.val_fraction, or give test/ "
                             "and val/ folders): these metrics are measured on TRAINING images")
            return name, notes
    raise UsageError(f"no usable split among {one_of(available)}")


def eval_dataset(model: LoadedModel, options: EvalOptions, plugins: Plugins) -> tuple[str, Any, list[str]]:
    """``(split, dataset, notes)``: the samples to score, checked and decoded for the frame."""
    recipe, task = model.recipe, model.task
    frame = options.frame or recipe.train.eval_frame
    if options.whole_data and options.split is None:
        whole = datapath.whole_data(plugins, recipe)
        if whole is not None:
            return datapath.WHOLE_DATA, datapath.checked(whole, task, recipe, frame, plugins), []
    splits = datapath.source_splits(plugins, recipe)
    name, notes = choose_split(list(splits), options.split, options.held_out_only)
    return name, datapath.checked(splits[name], task, recipe, frame, plugins), notes


def evaluate(model: LoadedModel, options: EvalOptions = EvalOptions(), plugins: Plugins | None = None,
             progress=None) -> EvalResult:
    """Run ``model`` on its recipe's evaluation pairs and measure it and the identity baseline.
    ``progress(done, total)`` is called after each batch when given."""
    plugins = plugins or get_plugins()
    if options.batch_size < 1:
        raise UsageError(f"--batch-size: must be >= 1, got {options.batch_size}")
    if options.frame is not None and options.frame not in EVAL_FRAMES:
        raise UsageError(f"--frame: {options.frame!r} is not one of {', '.join(EVAL_FRAMES)}")
    recipe, task, device = model.recipe, model.task, model.device
    split, dataset, notes = eval_dataset(model, options, plugins)
    if options.max_images is not None:
        dataset = Subset(dataset, range(min(options.max_images, len(dataset))))
    if len(dataset) == 0:
        raise UsageError(f"split {split!r} has no images to evaluate")
    pipeline = datapath.pipeline(recipe, task, device, options.frame)
    comparable = task.has_baseline
    distribution, lpips = _perceptual(options, comparable, device)
    dtype = PRECISIONS.get(options.precision)

    def autocast():
        return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()

    rows: list[dict[str, Any]] = []
    generators = {"model": model.generator}
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []), \
            modes(generators, options.train_mode):
        for scored in score_batches(same_size_batches(dataset, options.batch_size), pipeline, task, generators,
                                    per_image=options.train_mode, autocast=autocast):
            x, y, outputs, results = scored.x, scored.y, scored.outputs, scored.metrics
            shown = task.display(x, outputs["model"], y)
            shown_input = task.display(x, outputs["input"], y)[1] if "input" in outputs else None
            if lpips is not None:
                results["model"]["lpips"] = lpips(shown[1], shown[2])
                if shown_input is not None:
                    results["input"]["lpips"] = lpips(shown_input, shown[2])
            if distribution is not None:
                distribution.update(shown[2], {"model": shown[1], **({"input": shown_input} if shown_input is not None
                                                                     else {})})
            paths = scored.raw.get("path") or [None] * x.shape[0]
            for i in range(x.shape[0]):
                row: dict[str, Any] = {"index": len(rows), "path": paths[i]}
                for who, metrics in results.items():
                    row.update({f"{who}_{k}": float(v[i]) for k, v in metrics.items()})
                rows.append(row)
            if progress is not None:
                progress(len(rows), len(dataset))
    summary = _summary(model, split, rows, notes, options)
    if distribution is not None:
        summary["distribution"] = distribution.compute()
    return EvalResult(summary, rows)


def _perceptual(options: EvalOptions, comparable: bool, device: torch.device):
    distribution = lpips = None
    if options.inception is not None:
        from i2i.evaluation.perceptual import DistributionMetrics, InceptionFeatures

        names = ["model", "input"] if comparable else ["model"]
        distribution = DistributionMetrics(InceptionFeatures(options.inception), names, device)
    if options.lpips is not None:
        from i2i.evaluation.perceptual import LPIPS

        lpips = LPIPS(options.lpips, options.lpips_net).to(device)
    return distribution, lpips


def _stats(values: list[float]) -> dict[str, float | None]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "min": None, "max": None, "count": 0}
    t = torch.tensor(finite, dtype=torch.float64)
    return {"mean": float(t.mean()), "std": float(t.std(unbiased=False)), "min": float(t.min()),
            "max": float(t.max()), "count": len(finite)}


def _summary(model: LoadedModel, split: str, rows: list[dict[str, Any]], notes: list[str],
             options: EvalOptions) -> dict[str, Any]:
    metrics: dict[str, dict[str, Any]] = {}
    for key in rows[0]:
        who, _, name = key.partition("_")
        if who in ("model", "input") and name:
            metrics.setdefault(who, {})[name] = _stats([r[key] for r in rows])
    names = sorted({name for table in metrics.values() for name in table})
    return {
        "format": "i2i.eval.v1",
        "i2i_version": __version__,
        "checkpoint": str(model.checkpoint),
        "weights": model.weights.name,
        "step": model.step,
        "task": model.recipe.task.name,
        "generator": model.recipe.generator.name,
        "data": model.recipe.data_root or model.recipe.source.name,
        "split": split,
        "images": len(rows),
        "mode": "train" if options.train_mode else "eval",
        "precision": options.precision,
        "protocol": protocol(model, split, options),
        "baseline": "input" in metrics,
        "metrics": metrics,
        "higher_is_better": {name: higher_is_better(name) for name in names},
        "warnings": notes,
        "notes": [
            f"mean/std/min/max over images (population std); PSNR of identical images is capped at {PSNR_CAP:g} dB",
            "mae, psnr, ssim, ms_ssim: on the task's output images in data units (task.decode_output); "
            "the task's own metrics replace those it also defines",
            "input: the identity baseline (the network input taken as the output)"
            if "input" in metrics else "no identity baseline: input and target are in different spaces",
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
    }


def default_output(model: LoadedModel) -> Path:
    """``RUN/eval.json`` for a checkpoint inside a run directory, else ``./eval.json``."""
    return (model.run_dir or Path(".")) / "eval.json"


def write_result(result: EvalResult, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (JSON summary) and the per-image CSV beside it (same name, ``.csv``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = path.with_suffix(".csv")
    result.summary["per_image_csv"] = table.name
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(result.summary), indent=2) + "\n")
    tmp.replace(path)
    columns = list(result.rows[0]) if result.rows else ["index", "path"]
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in result.rows:
            writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()})
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


def evaluate_run(run_dir: str | Path, device: torch.device, max_images: int | None = None,
                 plugins: Plugins | None = None) -> tuple[EvalResult, Path, Path] | None:
    """The end of ``i2i run``: evaluate the run's newest checkpoint (EMA weights when there are
    some) on its held-out split, test else val, into ``RUN/eval.json`` and ``RUN/eval.csv``.
    Returns ``None`` without measuring anything when the data have no held-out split
    (metrics on training images would flatter the model)."""
    from i2i.inference.model import load_model

    plugins = plugins or get_plugins()
    model = load_model(run_dir, device, plugins=plugins)
    try:
        result = evaluate(model, EvalOptions(max_images=max_images, held_out_only=True), plugins)
    except NoHeldOutSplit:
        return None
    json_path, csv_path = write_result(result, Path(run_dir) / "eval.json")
    return result, json_path, csv_path
