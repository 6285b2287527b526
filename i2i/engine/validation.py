"""Validation passes: mean per-image metrics of the generator (and its EMA) on held-out
pairs, and of the input itself (the identity baseline, measured once per run) where input
and target share a space. The scoring loop and metric table are ``i2i eval``'s
(:mod:`i2i.evaluation.measure`), so a run's last validation equals ``i2i eval`` of the same
weights on the same split.

Under DDP the images are shared out over the ranks and the sums all-reduced: every rank
ends with the same means (each image's pair is seeded by its index, so the numbers do not
depend on the number of ranks), and decisions taken on them (the best checkpoint, a
plateau schedule) are the same everywhere, so no rank meets a collective the others skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from i2i.data.loader import same_size_batches
from i2i.engine import distributed as dist
from i2i.evaluation.measure import Prepare, means, metric_sums, modes, score_batches
from i2i.metrics import MetricTable
from i2i.taskspec import TaskSpec

#: Log prefixes of the scored generators and of the baseline.
PREFIXES = {"model": "val_", "ema": "val_ema_", "input": "val_input_"}


def validate(batches: Iterable[dict[str, Any]], prepare: Prepare, task: TaskSpec, table: MetricTable,
             generators: dict[str, nn.Module], with_baseline: bool = True) -> dict[str, tuple[float, int]]:
    """Sums and counts of every metric over ``batches`` (``val_<metric>`` for
    ``generators["model"]``, ``val_<name>_<metric>`` for the others, ``val_input_<metric>`` for
    the baseline). Networks run in eval mode; their modes are restored."""
    with modes(generators, train_mode=False):
        return metric_sums(score_batches(batches, prepare, task, generators, table, with_baseline))


class Validator:
    """Validation of a run on ``dataset`` (its first ``limit`` images when given), ``batch_size``
    images at a time, shared out over the ranks of ``info``."""

    def __init__(self, dataset: Dataset, prepare: Prepare, task: TaskSpec, table: MetricTable, batch_size: int,
                 limit: int | None, info: dist.DistInfo, device: torch.device,
                 rng_devices: Callable[[], list[int]]):
        self.dataset = dataset if limit is None else Subset(dataset, range(min(limit, len(dataset))))
        self.prepare, self.task, self.table, self.batch_size = prepare, task, table, batch_size
        self.info, self.device, self.rng_devices = info, device, rng_devices

    def run(self, generators: dict[str, nn.Module], with_baseline: bool) -> dict[str, float]:
        """Mean metrics of ``generators`` (``{"model": g, "ema": g_ema}``), plus the baseline's
        when ``with_baseline`` and the task has one; the same on every rank. Training draws
        are untouched (the RNG is forked)."""
        shard = Subset(self.dataset, range(self.info.rank, len(self.dataset), self.info.world_size))
        with torch.random.fork_rng(devices=self.rng_devices()):
            totals = validate(same_size_batches(shard, self.batch_size), self.prepare, self.task, self.table,
                              generators, with_baseline)
        keys = [PREFIXES[who] + name for who in (*generators, *(["input"] if with_baseline and
                self.task.has_baseline else [])) for name in self.table.names()]
        return means(self._all_ranks({key: totals.get(key, (0.0, 0)) for key in keys}))

    def _all_ranks(self, totals: dict[str, tuple[float, int]]) -> dict[str, tuple[float, int]]:
        """Sums and counts added up over the ranks (one all-reduce)."""
        if not self.info.enabled:
            return totals
        keys = list(totals)
        packed = torch.tensor([[totals[k][0], float(totals[k][1])] for k in keys], dtype=torch.float64,
                              device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce_sum(packed)
        return {k: (float(packed[i, 0]), int(packed[i, 1])) for i, k in enumerate(keys)}
