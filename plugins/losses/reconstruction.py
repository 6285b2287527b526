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
    """1 - SSIM between output and target: :func:`i2i.image_metrics.ssim_maps` (the Gaussian-window
    SSIM every i2i metric uses), averaged over the valid window positions (per-pixel weights
    cropped to them). ``data_range`` is the span of the network's value range (2 for [-1, 1])."""

    def __init__(self, window_size: int = 11, data_range: float = 2.0):
        if window_size < 3 or window_size % 2 == 0:
            raise ValueError(f"window_size must be an odd number >= 3, got {window_size}")
        self.window_size = window_size
        self.data_range = data_range

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        from i2i.image_metrics import ssim_maps

        value = ssim_maps(output.float(), target.float(), self.data_range, self.window_size)[0]
        if weight is not None:
            top = (weight.shape[-2] - value.shape[-2]) // 2
            left = (weight.shape[-1] - value.shape[-1]) // 2
            weight = weight[..., top:top + value.shape[-2], left:left + value.shape[-1]]
        return 1.0 - weighted_mean(value, weight)


class ClippedL1(ReconstructionLoss):
    """L1 between output and target both clipped to ``[low, high]`` (network range), scaled by
    ``2 / (high - low)`` so that an error across the whole window counts as one across the whole
    [-1, 1] range: the errors a reader sees in a display window, e.g. soft tissue in CT. For a
    CT task, HU map to the network range as ``2 (HU - lo) / (hi - lo) - 1`` for its
    ``hu_range = [lo, hi]``: with [-1024, 3071], the soft-tissue window W 400 / L 40
    ([-160, 240] HU) is ``low = -0.578``, ``high = -0.383``.

    Args:
        low: the window's lower end in the network range.
        high: the window's upper end in the network range.
    """

    def __init__(self, low: float = -1.0, high: float = 1.0):
        if not high > low:
            raise ValueError(f"high must be > low, got low {low}, high {high}")
        self.low, self.high = low, high

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        error = (output.clamp(self.low, self.high) - target.clamp(self.low, self.high)).abs()
        return weighted_mean(error, weight) * (2.0 / (self.high - self.low))
