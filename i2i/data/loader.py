"""Batching decoded samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

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
