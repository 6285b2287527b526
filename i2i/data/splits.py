"""Deterministic hold-out splits, by group when the data have groups (patients, scenes)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def holdout_split(size: int, fraction: float, seed: int,
                  groups: Sequence[str] | None = None) -> tuple[list[int], list[int]]:
    """``(train_indices, val_indices)`` holding out about ``fraction`` of the samples.

    The choice is a pure function of ``seed``. With ``groups`` (one label per sample) whole
    groups are held out, so no group appears on both sides. At least one sample (or
    group) goes to each side when ``fraction > 0`` and there are at least two.
    """
    if fraction <= 0 or size < 2:
        return list(range(size)), []
    g = torch.Generator().manual_seed(seed * 7919 + 17)
    if groups is None:
        order = torch.randperm(size, generator=g).tolist()
        n_val = min(size - 1, max(1, round(size * fraction)))
        val = set(order[:n_val])
    else:
        names = sorted(set(groups))
        if len(names) < 2:
            return list(range(size)), []
        order = [names[i] for i in torch.randperm(len(names), generator=g).tolist()]
        n_val = min(len(names) - 1, max(1, round(len(names) * fraction)))
        held = set(order[:n_val])
        val = {i for i, name in enumerate(groups) if name in held}
    return [i for i in range(size) if i not in val], sorted(val)
