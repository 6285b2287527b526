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
