"""Sample order that can stop and resume mid-epoch, shard across DDP ranks, and never
draws from the global random generators."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """A shuffled order per epoch, a pure function of ``(seed, epoch)``.

    ``set_position(epoch, start_batch)`` makes the next iteration begin ``start_batch``
    batches into that epoch. With ``world_size > 1`` each rank takes a disjoint, equally
    long share of the epoch's order.
    """

    def __init__(self, size: int, batch_size: int, seed: int = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1):
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Full batches per epoch for one rank (the last partial batch is dropped)."""
        return (self.size // self.world_size) // self.batch_size

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def order(self, epoch: int) -> list[int]:
        """This rank's indices for ``epoch``, whole epoch."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        per_rank = self.size // self.world_size
        return order[self.rank::self.world_size][:per_rank]

    def __iter__(self) -> Iterator[int]:
        order = self.order(self.epoch)[: self.batches_per_epoch * self.batch_size]
        return iter(order[self.start_batch * self.batch_size:])

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size
