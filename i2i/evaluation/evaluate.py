"""``i2i eval``: metrics of a trained generator on held-out pairs, and of the identity baseline.

The protocol (recorded in ``eval.json``): pairs come from the data path training uses
(:mod:`i2i.assembly.datapath`: the recipe's source, ``data.root`` possibly overridden, the
same deterministic hold-out splits); each image is scored on its ``full`` frame at the
training scale (the pix2pix test protocol; ``--frame crop`` scores the centre training
crop instead); inputs a task makes (masks, noise, CT physics) are drawn per image from the
seed ``(run.seed, image index)``; metrics are the task's :class:`~i2i.metrics.MetricTable`,
the one validation uses. So per-image results do not depend on the batch size and equal
a run's validation on the same split and weights. ``--data FOLDER`` without split
folders scores every sample in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from i2i.assembly import datapath
from i2i.data.loader import same_size_batches
from i2i.data.resize import EVAL_FRAMES
from i2i.devices import autocast as precision_autocast
from i2i.devices import check_precision
from i2i.errors import UsageError, one_of
from i2i.evaluation.measure import modes, score_batches
from i2i.evaluation.options import EvalOptions, EvalResult
from i2i.evaluation.slices import write_slices
from i2i.evaluation.summary import eval_summary, write_result
from i2i.inference.model import LoadedModel, load_model
from i2i.inference.pixel_size import resampling_note
from i2i.metrics import MetricTable, ScoredImages
from i2i.nn.protocols import fp32_output_layer
from i2i.plugins import Plugins, get_plugins

#: Split preference when none is named: held-out test data, then validation data, then
#: (with a warning in the result) the training data.
SPLIT_ORDER = ("test", "val", "train")


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
    pipeline = datapath.pipeline(recipe, task, device, frame=options.frame)
    table = MetricTable.registered(plugins["metrics"], task)
    comparable = task.has_baseline
    distribution, lpips = _perceptual(options, comparable, device)
    check_precision(options.precision, device)
    fp32_output_layer(model.generator, task, options.precision)

    def autocast():
        return precision_autocast(options.precision, device)

    rows: list[dict[str, Any]] = []
    resampled, given_inputs = 0, 0
    generators = {"model": model.generator}
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []), \
            modes(generators, options.train_mode):
        pixel_range = None if options.native else model.pixel_range
        for scored in score_batches(same_size_batches(dataset, options.batch_size), pipeline, task, generators,
                                    table, per_image=options.train_mode, autocast=autocast, pixel_range=pixel_range):
            resampled += scored.resampled
            given_inputs += scored.x.shape[0] if isinstance(scored.raw.get("input"), torch.Tensor) else 0
            x, y, outputs, results = scored.x, scored.y, scored.outputs, scored.metrics
            shown = task.display(x, outputs["model"], y)
            shown_input = task.display(x, outputs["input"], y)[1] if "input" in outputs else None
            if lpips is not None:  # read on the host once per batch
                results["model"]["lpips"] = lpips(shown[1], shown[2]).cpu()
                if shown_input is not None:
                    results["input"]["lpips"] = lpips(shown_input, shown[2]).cpu()
            if distribution is not None:
                distribution.update(shown[2], {"model": shown[1], **({"input": shown_input} if shown_input is not None
                                                                     else {})})
            paths = scored.raw.get("path") or [None] * x.shape[0]
            regions = task.regions(ScoredImages(task, x, outputs["model"], y, scored.raw))
            for i in range(x.shape[0]):
                row: dict[str, Any] = {"index": len(rows), "path": paths[i],
                                       **({"region": regions[i]} if regions is not None else {})}
                for who, metrics in results.items():
                    skipped = scored.not_applicable.get(who, {})
                    row.update({f"{who}_{k}": None if k in skipped and bool(skipped[k][i]) else float(v[i])
                                for k, v in metrics.items()})
                rows.append(row)
            if progress is not None:
                progress(len(rows), len(dataset))
    if resampled:
        notes.append(resampling_note(model.pixel_range, resampled, len(rows), ", where it is scored",
                                     "--native scores without resampling"))
    summary = eval_summary(model, split, rows, notes, options, table)
    if given_inputs == len(rows):
        summary["protocol"]["pairs"] = ("each image's input as the data hold it (paired data, e.g. real CT pairs): "
                                        "nothing made or simulated")
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


def evaluate_run(run_dir: str | Path, device: torch.device, max_images: int | None = None,
                 plugins: Plugins | None = None, checkpoint: Path | None = None,
                 chosen: str | None = None) -> tuple[EvalResult, Path, Path] | None:
    """The end of ``i2i run``: evaluate the run's ``checkpoint`` (default its newest; EMA
    weights when there are some) on its held-out split, test else val, into ``RUN/eval.json``
    and ``RUN/eval.csv``, and write a few representative held-out images as a reader views them
    (:mod:`i2i.evaluation.slices`: ``RUN/eval_slices/``) for the report; ``chosen`` (why this
    checkpoint) is recorded as ``eval.json``'s ``checkpoint_choice``. Returns ``None`` without measuring anything when the
    data have no held-out split (metrics on training images would flatter the model)."""
    plugins = plugins or get_plugins()
    model = load_model(checkpoint or run_dir, device, plugins=plugins)
    options = EvalOptions(max_images=max_images, held_out_only=True)
    try:
        result = evaluate(model, options, plugins)
    except NoHeldOutSplit:
        return None
    if chosen:
        result.summary["checkpoint_choice"] = chosen
    json_path, csv_path = write_result(result, Path(run_dir) / "eval.json")
    write_slices(model, result.rows, Path(run_dir), lambda: eval_dataset(model, options, plugins)[1],
                 MetricTable.registered(plugins["metrics"], model.task))
    return result, json_path, csv_path
