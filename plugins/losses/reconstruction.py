"""Pixel reconstruction losses between the generator's output and the target (network range)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from i2i.losses import ReconstructionLoss, weighted_mean


class L1(ReconstructionLoss):
    """Mean absolute error between output and target (pix2pix's L1 term, weight 100)."""

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if weight is None:
            return F.l1_loss(output, target)
        return weighted_mean((output - target).abs(), weight)


class L2(ReconstructionLoss):
    """Mean squared error between output and target."""

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if weight is None:
            return F.mse_loss(output, target)
        return weighted_mean((output - target) ** 2, weight)


class SSIM(ReconstructionLoss):
    """1 - SSIM (kornia, Gaussian window) between output and target. ``data_range`` is the
    span of the network's value range (2 for [-1, 1])."""

    def __init__(self, window_size: int = 11, data_range: float = 2.0):
        if window_size < 3 or window_size % 2 == 0:
            raise ValueError(f"window_size must be an odd number >= 3, got {window_size}")
        self.window_size = window_size
        self.data_range = data_range

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        from kornia.metrics import ssim

        value = ssim(output.float(), target.float(), self.window_size, max_val=self.data_range)
        return 1.0 - weighted_mean(value, weight)
