"""Batching decoded samples."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from i2i.errors import UsageError


def collate_samples(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack the tensors of ``samples`` per key (strings become lists); images of
    different sizes fail with the files named."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                paths = [s.get("path", "?") for s in samples]
                described = ", ".join(f"{p} {tuple(v.shape)}" for p, v in zip(paths, values))
                raise UsageError(f"images in one batch differ in size ({key}: {described}); set "
                                 "data.preprocess = \"resize_and_crop\" (or train.batch_size = 1)")
            out[key] = torch.stack(values)
        else:
            out[key] = list(values)
    return out


def same_size_batches(dataset: Dataset, batch_size: int) -> Iterator[dict[str, Any]]:
    """Batches of up to ``batch_size`` consecutive samples of ``dataset`` that share a size
    (a new batch starts when the size changes), for evaluation of whole frames whose sizes
    differ. Samples keep their order, so per-image results do not depend on ``batch_size``."""
    pending: list[dict[str, Any]] = []
    for index in range(len(dataset)):
        sample = dataset[index]
        if pending and (len(pending) == batch_size or _shape(pending[0]) != _shape(sample)):
            yield collate_samples(pending)
            pending = []
        pending.append(sample)
    if pending:
        yield collate_samples(pending)


def _shape(sample: dict[str, Any]) -> tuple:
    return tuple(tuple(v.shape) for v in sample.values() if isinstance(v, torch.Tensor))
