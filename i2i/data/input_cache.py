"""Inputs a task makes the same way every time, made once per sample and kept.

A task whose ``deterministic_input`` is true (a sparse-view FBP at a fixed view count) gives
a sample the same input at every epoch and every validation pass, so the batch pipeline asks
:class:`InputCache` for it: samples seen before get their kept input, the others are made
in one ``task.make_input`` call and kept. The input then travels with the target through the
pipeline's geometry (flips, rotations: they move input and target alike, after the physics,
as a mirrored scan would) into ``task.make_pair``, which uses it as it is. Evaluation makes
no random draw here, so cached and uncached numbers are identical.

Samples are keyed by their ``path`` (a file and slice, a phantom's seed and index) and size.
Inputs are kept on the CPU, as made (float32), up to :data:`CACHE_BYTES`; later samples are
made every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

#: Bytes of inputs kept per cache (a 512 x 512 float32 slice is 1 MiB).
CACHE_BYTES = 2 << 30


class InputCache:
    """``cache.fill(batch, make)`` -> ``batch`` with ``input`` set, made by ``make(sub_batch)``
    for the samples not kept yet."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._kept: dict[tuple, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def fill(self, batch: Mapping[str, Any], make) -> dict[str, Any]:
        """``batch`` (raw samples on the device) with ``input`` made by ``make`` or kept."""
        target = batch["target"]
        keys = [(str(path), tuple(target.shape[1:])) for path in batch["path"]]
        missing = [i for i, key in enumerate(keys) if key not in self._kept]
        made = make(_subset(batch, missing)) if missing else None
        for j, i in enumerate(missing):
            size = made[j].numel() * made[j].element_size()
            if self.bytes + size <= self.max_bytes:
                self._kept[keys[i]] = made[j].detach().to("cpu", copy=True)
                self.bytes += size
        rows = {i: made[j] for j, i in enumerate(missing)}
        inputs = [rows[i] if i in rows else self._kept[key].to(target.device, non_blocking=True)
                  for i, key in enumerate(keys)]
        return {**batch, "input": torch.stack(inputs)}


def _subset(batch: Mapping[str, Any], rows: list[int]) -> dict[str, Any]:
    """The samples ``rows`` of a collated batch (tensors and lists indexed alike)."""
    if len(rows) == len(batch["path"]):
        return dict(batch)
    index = torch.tensor(rows)
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == len(batch["path"]):
            out[key] = value[index.to(value.device)]
        elif isinstance(value, list) and len(value) == len(batch["path"]):
            out[key] = [value[i] for i in rows]
        else:
            out[key] = value
    return out
