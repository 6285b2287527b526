"""Mixed precision: autocast dtype per device and grad scalers for fp16."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from i2i.devices import DTYPES, autocast
from i2i.errors import UsageError


def resolve_precision(requested: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CUDA devices that support it, fp32 otherwise. fp16 needs CUDA."""
    if requested == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return "bf16"
        return "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise UsageError("train.precision: 'fp16' needs a CUDA device (its grad scaler guards fp16 gradients); "
                         "on CPU use 'bf16' or 'fp32'")
    return requested


@dataclass
class Precision:
    """What a training step needs to know about precision."""

    name: str
    device: torch.device

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES[self.name]

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context for forward passes (a no-op for fp32)."""
        return autocast(self.name, self.device)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A grad scaler for fp16, else ``None``."""
        return torch.amp.GradScaler(self.device.type) if self.name == "fp16" else None
