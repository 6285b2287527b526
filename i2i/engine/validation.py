"""Validation: mean per-image metrics of the generator (and its EMA) on held-out pairs, and
of the input itself as the identity baseline when input and target share a space: the
metric suite and scoring loop of ``i2i eval`` (:mod:`i2i.evaluation.measure`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from i2i.evaluation.measure import Prepare, mean_metrics, modes, score_batches
from i2i.tasks import Task


def validate(batches: Iterable[dict[str, Any]], prepare: Prepare, task: Task,
             generators: dict[str, nn.Module], with_baseline: bool = True) -> dict[str, float]:
    """Mean metrics over ``batches``: ``val_<metric>`` for ``generators["model"]``,
    ``val_<name>_<metric>`` for the others (e.g. ``val_ema_psnr``) and ``val_input_<metric>``
    for the baseline. Networks run in eval mode; their modes are restored."""
    with modes(generators, train_mode=False):
        return mean_metrics(score_batches(batches, prepare, task, generators, with_baseline))


def validation_pass(trainer) -> dict[str, float]:
    """The trainer's validation at its current step (rank 0): the model and its EMA on the
    validation split (``train.val_images`` of it), the baseline once per run; the schedule
    and the plugins see the result."""
    import torch
    from torch.utils.data import Subset

    from i2i.data.loader import same_size_batches
    from i2i.nn.sizing import unwrap

    if not trainer.dist.is_main:
        return {}
    limit = trainer.recipe.train.val_images
    dataset = trainer.val_set if limit is None else Subset(trainer.val_set, range(min(limit, len(trainer.val_set))))
    generators = {"model": unwrap(trainer.generator)}
    if trainer.ema is not None:
        generators["ema"] = trainer.ema.module
    with torch.random.fork_rng(devices=trainer.rng_devices()):
        metrics = validate(same_size_batches(dataset, trainer.recipe.train.batch_size), trainer.prepare,
                           trainer.task, generators, with_baseline="val_input_psnr" not in trainer.last_validation)
    baseline = {k: v for k, v in trainer.last_validation.items() if k.startswith("val_input_")}
    metrics = {**baseline, **metrics}
    trainer.last_validation = metrics
    trainer.schedule.observe(metrics)
    trainer.events.emit("on_validation_end", trainer=trainer, step=trainer.step, metrics=metrics)
    return metrics


def is_new_best(best: dict[str, Any] | None, name: str | None, logs: dict[str, Any]) -> bool:
    """Whether ``logs`` hold a better ``name`` (``train.best_metric``) than ``best``."""
    from i2i.metrics import higher_is_better

    if not name or name not in logs:
        return False
    if best is None:
        return True
    return logs[name] > best["value"] if higher_is_better(name) else logs[name] < best["value"]
