"""Per-image quality metrics (batched): MAE, PSNR, SSIM.

Every function takes (N, C, H, W) tensors and returns a (N,) tensor. PSNR of identical
images would be infinite; it is capped at :data:`PSNR_CAP` dB so logs and JSON stay valid.
"""

from __future__ import annotations

import torch

#: PSNR reported for (near-)identical images, in dB.
PSNR_CAP = 100.0

#: Metric names (after prefixes such as ``val_`` or ``ema_``) where higher is better.
HIGHER_IS_BETTER = ("psnr", "ssim", "ms_ssim")


def higher_is_better(name: str) -> bool:
    """Whether a (possibly prefixed) metric name improves upwards, e.g. ``val_psnr``."""
    return any(name == h or name.endswith(f"_{h}") for h in HIGHER_IS_BETTER)


def mae(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per image."""
    return (x.float() - y.float()).abs().flatten(1).mean(1)


def rmse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Root mean squared error per image."""
    return (x.float() - y.float()).pow(2).flatten(1).mean(1).sqrt()


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """``10 log10(data_range^2 / MSE)`` per image, capped at :data:`PSNR_CAP`."""
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1)
    floor = data_range ** 2 * 10 ** (-PSNR_CAP / 10)
    return (10 * torch.log10(data_range ** 2 / mse.clamp_min(floor))).clamp_max(PSNR_CAP)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window_size: int = 11) -> torch.Tensor:
    """Mean SSIM per image (Gaussian window, sigma 1.5: Wang et al. 2004; kornia)."""
    from kornia.metrics import ssim as kornia_ssim

    window_size = min(window_size, _largest_odd(min(x.shape[-2:])))
    return kornia_ssim(x.float(), y.float(), window_size, max_val=data_range).flatten(1).mean(1)


def _largest_odd(n: int) -> int:
    return n if n % 2 else n - 1
