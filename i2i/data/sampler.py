"""Batch order that can stop and resume mid-epoch, shard across DDP ranks, group images
of one size into a batch (size buckets), and never draws from the global generators."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of indices per epoch, a pure function of ``(seed, epoch)``.

    The epoch's order is a seeded permutation. With ``buckets`` (one label per sample,
    e.g. its image size) each batch holds one bucket only; the last partial batch of each
    bucket is dropped. With ``world_size > 1`` every global batch of
    ``batch_size * world_size`` indices is split between the ranks, so ranks see disjoint
    samples of the same size at each step. ``set_position(epoch, start_batch)`` makes the
    next iteration begin that many batches into the epoch (exact resume).
    """

    def __init__(self, size: int, batch_size: int, seed: int = 0, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1, buckets: Sequence[object] | None = None):
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.buckets = list(buckets) if buckets is not None else None
        self.epoch = 0
        self.start_batch = 0
        self._per_epoch = len(self.epoch_batches(0))

    @property
    def batches_per_epoch(self) -> int:
        """Batches per epoch for one rank."""
        return self._per_epoch

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of ``epoch``, in order."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.size, generator=g).tolist() if self.shuffle else list(range(self.size))
        groups: dict[object, list[int]] = {}
        for index in order:
            groups.setdefault(self.buckets[index] if self.buckets else None, []).append(index)
        span = self.batch_size * self.world_size
        global_batches = [members[i:i + span] for members in groups.values()
                          for i in range(0, len(members) - span + 1, span)]
        if len(groups) > 1 and self.shuffle:
            global_batches = [global_batches[i] for i in torch.randperm(len(global_batches), generator=g).tolist()]
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        return [batch[lo:hi] for batch in global_batches]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.epoch_batches(self.epoch)[self.start_batch:])

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.start_batch)
