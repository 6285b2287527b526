"""Deterministic hold-out splits, by group when the data have groups (patients, scenes).

Groups may also be held out by name (``data.test_groups``, ``data.val_groups``: names or
globs), so a chosen volume, say a head, is the test set whatever the seed.

Data of a single group (one CT volume, one patient) cannot be split by group: their
held-out splits are slabs of slices along the stack (:mod:`i2i.data.slabs`: by default test
and val in the middle, a gap of unused slices on each side; ``data.slab_position``,
``data.slab_count``, ``data.slab_gap``). Neighbouring slices look alike, so this is weaker
than a split by patient, and one line says so, with the slice range of each split.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from i2i.data.imageio import DataError
from i2i.data.slabs import SlabLayout, slab_split
from i2i.data.source import note_once
from i2i.errors import UsageError


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


def named_split(groups: Sequence[str] | None, patterns: Sequence[str], key: str) -> tuple[list[int], list[int]]:
    """``(rest, held)``: the samples whose group matches one of ``patterns`` (names or
    ``fnmatch`` globs) are held; a pattern that matches no group is a usage error naming ``key``."""
    if groups is None:
        raise UsageError(f"{key}: this source gives its samples no groups (volumes, patients); set "
                         "data.group_pattern to name them from the file paths")
    names = sorted(set(groups))
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise UsageError(f"{key}: {pattern!r} matches none of the groups left to hold out: {', '.join(names)}")
    held = [i for i, group in enumerate(groups) if any(fnmatch.fnmatchcase(group, p) for p in patterns)]
    if len(held) == len(groups):
        raise UsageError(f"{key}: {list(patterns)} would hold out every group left ({', '.join(names)}); "
                         "training needs at least one")
    chosen = set(held)
    return [i for i in range(len(groups)) if i not in chosen], held


def sample_groups(dataset: Dataset, pattern: str | None) -> list[str] | None:
    """Each sample's group: the source's own ``groups`` when it has them, else the first
    group (or the whole match) of ``pattern`` on its relative path."""
    own = getattr(dataset, "groups", None)
    if pattern is None:
        return list(own) if own is not None else None
    paths = getattr(dataset, "relative_paths", None)
    if paths is None:
        raise UsageError("data.group_pattern: this source does not expose relative paths to match")
    regex = re.compile(pattern)
    groups = []
    for path in paths:
        match = regex.search(str(path))
        if match is None:
            raise UsageError(f"data.group_pattern: {pattern!r} does not match {str(path)!r}; every sample needs "
                             "a group")
        groups.append(match.group(1) if match.groups() else match.group(0))
    return groups


class SplitSubset(Subset):
    """A ``Subset`` that keeps the source dataset's per-sample information
    (``size_of``, ``spacing_of``, ``relative_paths``, ``groups``) for its own indices."""

    def size_of(self, index: int) -> tuple[int, int]:
        return self.dataset.size_of(self.indices[index])

    def spacing_of(self, index: int) -> tuple[float, float]:
        """The source's pixel spacing of sample ``index`` (AttributeError when it has none)."""
        return self.dataset.spacing_of(self.indices[index])

    @property
    def relative_paths(self) -> list[str] | None:
        paths = getattr(self.dataset, "relative_paths", None)
        return None if paths is None else [paths[i] for i in self.indices]

    @property
    def groups(self) -> list[str] | None:
        groups = getattr(self.dataset, "groups", None)
        return None if groups is None else [groups[i] for i in self.indices]


def split_datasets(source, data, seed: int) -> dict[str, Dataset]:
    """``{"train": ..., "val": ..., "test": ...}`` (the latter two when present): the source's
    own split folders, else hold-outs of ``data.val_fraction`` / ``data.test_fraction`` of the
    training samples, by group when groups are known, as slabs when one group is left. The
    source's ``training_only()`` samples (if any) then join the training split."""
    splits = _held_out(source, data, seed)
    extra = source.training_only() if hasattr(source, "training_only") else None
    if extra is not None and len(extra):
        splits["train"] = JoinedDataset([splits["train"], extra])
    return splits


class JoinedDataset(ConcatDataset):
    """Two datasets one after the other, keeping the per-sample information both have
    (``size_of``, ``spacing_of``, ``relative_paths``, ``groups``)."""

    def _locate(self, index: int) -> tuple[Dataset, int]:
        first = self.datasets[0]
        return (first, index) if index < len(first) else (self.datasets[1], index - len(first))

    def size_of(self, index: int) -> tuple[int, int]:
        dataset, i = self._locate(index)
        return dataset.size_of(i)

    def spacing_of(self, index: int) -> tuple[float, float]:
        dataset, i = self._locate(index)
        return dataset.spacing_of(i)

    @property
    def relative_paths(self) -> list[str] | None:
        parts = [getattr(d, "relative_paths", None) for d in self.datasets]
        return None if any(p is None for p in parts) else [*parts[0], *parts[1]]

    @property
    def groups(self) -> list[str] | None:
        parts = [getattr(d, "groups", None) for d in self.datasets]
        return None if any(p is None for p in parts) else [*parts[0], *parts[1]]


def _held_out(source, data, seed: int) -> dict[str, Dataset]:
    splits = {name: source.dataset(name) for name in source.splits()}
    train = splits["train"]
    asked = (("test", data.test_fraction, tuple(data.test_groups or ())),
             ("val", data.val_fraction, tuple(data.val_groups or ())))
    wanted = {name: (fraction, named) for name, fraction, named in asked
              if (fraction > 0 or named) and name not in splits}
    if not wanted:
        return splits
    groups = sample_groups(train, data.group_pattern)
    keep = list(range(len(train)))
    for offset, (name, (fraction, named)) in enumerate(wanted.items()):
        sub_groups = [groups[i] for i in keep] if groups is not None else None
        if named:
            rest, held = named_split(sub_groups, named, f"data.{name}_groups")
        elif sub_groups is not None and len(set(sub_groups)) == 1:
            left = {other: share for other, (share, _) in list(wanted.items())[offset:]}
            keep = _slabs(train, keep, left, data, sub_groups[0], splits)
            break
        else:
            share = fraction * len(train) / max(1, len(keep))
            rest, held = holdout_split(len(keep), min(share, 0.9), seed + offset, sub_groups)
        if not held or not rest:
            _cannot_hold_out(name, fraction, sub_groups, keep)
        splits[name] = SplitSubset(train, [keep[i] for i in held])
        keep = [keep[i] for i in rest]
    splits["train"] = SplitSubset(train, keep)
    return splits


def _slabs(train: Dataset, keep: list[int], wanted: dict[str, float], data, group: str,
           splits: dict[str, Dataset]) -> list[int]:
    """Hold out ``wanted`` from the samples ``keep`` of one ``group`` as slabs (into
    ``splits``); the training samples left, after one line stating each split's slices."""
    positions = getattr(train, "positions", None)
    positions = [positions[i] for i in keep] if positions is not None else [None] * len(keep)
    shares = {name: min(fraction * len(train) / max(1, len(keep)), 0.9) for name, fraction in wanted.items()}
    slabs = slab_split(positions, shares, SlabLayout(data.slab_position, data.slab_count, data.slab_gap))
    for name, fraction in wanted.items():
        if not slabs.held.get(name) or not slabs.train:
            _cannot_hold_out(name, fraction, [group] * len(keep), keep)
        splits[name] = SplitSubset(train, [keep[i] for i in slabs.held[name]])
    note_once(f"data: one group ({group!r}: one volume or patient) left to split, so the held-out splits are slabs of "
              f"its slices: {slabs.description} (data.slab_position = {data.slab_position:g}, data.slab_count = "
              f"{data.slab_count}, data.slab_gap = {data.slab_gap}); weaker than a split by patient, since "
              "neighbouring slices look alike")
    return [keep[i] for i in slabs.train]


def _cannot_hold_out(name: str, fraction: float, sub_groups: list[str] | None, keep: list[int]) -> None:
    unit = f"{len(set(sub_groups))} group(s) (whole groups are held out: a volume, a patient)" \
        if sub_groups is not None and len(set(sub_groups)) > 1 else f"{len(keep)} sample(s)"
    raise DataError(f"data.{name}_fraction = {fraction:g}: cannot hold out a {name} split, the training data left "
                    f"have {unit}; it needs at least two. Give more data, set data.{name}_fraction = 0, or provide "
                    f"{name}/ and train/ folders")
