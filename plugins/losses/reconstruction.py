"""Pixel reconstruction losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from i2i.losses import ReconstructionLoss


class L1(ReconstructionLoss):
    """Mean absolute error between output and target (pix2pix's L1 term, weight 100)."""

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(output, target)


class L2(ReconstructionLoss):
    """Mean squared error between output and target."""

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output, target)
