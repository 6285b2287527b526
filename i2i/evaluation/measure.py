"""Scoring generators on evaluation batches: the loop that validation, sample statistics and
``i2i eval`` share, so a run's last validation and ``i2i eval`` of the same weights on the
same split give the same numbers.

Per batch: the pipeline in evaluation mode (the frame, per-image pair seeds) -> each
generator (eval mode; with ``per_image`` one image at a time, so train-mode batch
normalisation sees each image on its own) -> the per-image metrics of the task's
:class:`~i2i.metrics.MetricTable` for each output and, when the task has one, for the identity baseline (``input``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from i2i.inference.pixel_size import (
    PixelRange,
    forward_at_trained_pixel_size,
    target_size,
)
from i2i.metrics import MetricTable, ScoredImages
from i2i.nn.sizing import forward_any_size
from i2i.taskspec import TaskSpec

Prepare = Callable[[dict[str, Any], bool], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class ScoredBatch:
    """One evaluation batch: its decoded samples, network input and target, each generator's
    output (``outputs["input"]`` is the baseline when measured), per-image metrics (NaN where
    a metric does not apply) and, per metric with an applicability rule, which images it does
    not apply to (``not_applicable[who][metric]``, ``(N,)`` bool)."""

    raw: dict[str, Any]
    x: torch.Tensor
    y: torch.Tensor
    outputs: dict[str, torch.Tensor]
    metrics: dict[str, dict[str, torch.Tensor]]
    resampled: int = 0
    not_applicable: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


@contextlib.contextmanager
def modes(generators: dict[str, nn.Module], train_mode: bool) -> Iterator[None]:
    """Generators in eval (or train) mode for the block; their modes are restored after."""
    before = {name: net.training for name, net in generators.items()}
    try:
        for net in generators.values():
            net.train(train_mode)
        yield
    finally:
        for name, net in generators.items():
            net.train(before[name])


@torch.no_grad()
def score_batches(batches: Iterable[dict[str, Any]], prepare: Prepare, task: TaskSpec,
                  generators: dict[str, nn.Module], table: MetricTable, baseline: bool = True, per_image: bool = False,
                  autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                  pixel_range: PixelRange | None = None) -> Iterator[ScoredBatch]:
    """Score ``generators`` (e.g. ``{"model": g, "ema": g_ema}``) on ``batches`` (decoded
    samples) with the per-image metrics of ``table``, plus the identity baseline when
    ``baseline`` and the task has one. With
    ``pixel_range`` (the pixel sizes the model was trained at), images whose ``spacing``
    lies outside it are resampled for the generator and back (metrics stay at the image's
    own resolution). The caller sets the generators' modes (see :func:`modes`)."""
    baseline = baseline and task.has_baseline
    for raw in batches:
        x, y = prepare(raw, False)
        spacing = raw.get("spacing") if pixel_range is not None else None
        outputs = {}
        for name, net in generators.items():
            def run(part: torch.Tensor, net: nn.Module = net) -> torch.Tensor:
                with autocast():
                    return forward_any_size(net, part, one_at_a_time=per_image).float()

            outputs[name] = forward_at_trained_pixel_size(run, x, spacing, pixel_range)
        if baseline:
            outputs["input"] = task.baseline_output(x).float()
        images = {name: ScoredImages(task, x, out, y, raw) for name, out in outputs.items()}
        metrics = {name: table.score(scored) for name, scored in images.items()}
        skipped = {name: not_applicable(table, scored) for name, scored in images.items()}
        for name, flags in skipped.items():  # not applicable: NaN, whatever compute gave
            metrics[name].update({k: metrics[name][k].masked_fill(skip.to(metrics[name][k].device), float("nan"))
                                  for k, skip in flags.items()})
        metrics = on_host(metrics)
        resampled = 0 if spacing is None else sum(
            target_size(x.shape[-2:], spacing[i].tolist(), pixel_range) is not None for i in range(x.shape[0]))
        yield ScoredBatch(raw, x, y, outputs, metrics, resampled, skipped)


def not_applicable(table: MetricTable, images: ScoredImages) -> dict[str, torch.Tensor]:
    """``(N,)`` bool per metric of ``table`` with an ``applies`` rule: the images it is not meant for."""
    return {name: ~table.metrics[name].applies(images).bool().reshape(-1).cpu() for name in table.names()
            if table.metrics[name].applies is not None}


def on_host(metrics: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
    """Per-image metric values ``{who: {metric: (N,)}}`` on the CPU, copied from a device in one
    transfer (one host synchronisation per batch instead of one per value read); CPU values
    are returned as they are."""
    flat = [(who, name, values) for who, table in metrics.items() for name, values in table.items()]
    if all(values.device.type == "cpu" for _, _, values in flat):
        return metrics
    dtype = functools.reduce(torch.promote_types, (values.dtype for _, _, values in flat))
    rows = torch.stack([values.to(dtype) for _, _, values in flat]).cpu()
    out: dict[str, dict[str, torch.Tensor]] = {who: {} for who in metrics}
    for (who, name, _), row in zip(flat, rows):
        out[who][name] = row
    return out


def metric_sums(scored: Iterable[ScoredBatch], prefix: str = "val_") -> dict[str, tuple[float, int]]:
    """Per metric of ``scored`` batches, the sum of its finite values and their count:
    ``val_<metric>`` for the ``model``, ``val_<name>_<metric>`` for the others
    (``val_ema_psnr``, ``val_input_psnr``). Non-finite values (failures, and images a metric
    does not apply to) are left out."""
    totals: dict[str, tuple[float, int]] = {}
    for batch in scored:
        for name, metrics in batch.metrics.items():
            head = prefix if name == "model" else f"{prefix}{name}_"
            for key, values in metrics.items():
                finite = values[torch.isfinite(values)]
                total, count = totals.get(head + key, (0.0, 0))
                totals[head + key] = (total + float(finite.double().sum()), count + int(finite.numel()))
    return totals


def means(totals: dict[str, tuple[float, int]]) -> dict[str, float]:
    """Sums and counts (:func:`metric_sums`) -> means; the mean of no value is NaN."""
    return {key: total / count if count else float("nan") for key, (total, count) in totals.items()}


def mean_metrics(scored: Iterable[ScoredBatch], prefix: str = "val_") -> dict[str, float]:
    """Means over images of every metric of ``scored`` batches (see :func:`metric_sums`)."""
    return means(metric_sums(scored, prefix))
