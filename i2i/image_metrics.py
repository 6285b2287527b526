"""Per-image quality metrics, batched: MAE, RMSE, PSNR, SSIM and MS-SSIM, the one home of
each, used by the metric records (:mod:`i2i.metrics`), the CT metrics and the SSIM loss.

Every function takes (N, C, H, W) tensors and returns a (N,) tensor (channels averaged).
Definitions, so numbers compare with papers and other tools:

* ``psnr = 10 log10(data_range**2 / MSE)`` over all pixels and channels (skimage's
  ``peak_signal_noise_ratio``); identical images would give infinity and are capped at
  :data:`PSNR_CAP` dB so logs and JSON stay valid.
* ``ssim``: Wang et al. (2004) with an 11 x 11 Gaussian window (sigma 1.5), K1 = 0.01,
  K2 = 0.03, averaged over the pixels whose window lies inside the image (no padding), per
  channel then over channels: skimage's ``structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=R, channel_axis=...)``. Images smaller
  than the window use the largest odd window that fits.
* ``ms_ssim``: Wang, Simoncelli & Bovik (2003), five scales with their weights (torchmetrics'
  ``multiscale_structural_similarity_index_measure`` with ``normalize="relu"``); images too
  small for five scales use the scales that fit, weights renormalised; smaller than the
  window: NaN.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

#: PSNR reported for (near-)identical images, in dB.
PSNR_CAP = 100.0

#: The five scale weights of Wang, Simoncelli & Bovik (2003).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image mean over (C, H, W), over ``mask`` only when given (NaN where it is empty)."""
    if mask is None:
        return values.flatten(1).mean(1)
    weight = torch.broadcast_to(mask, values.shape).to(values.dtype)
    return (values * weight).flatten(1).sum(1) / weight.flatten(1).sum(1)


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two batches (N, C, H, W) of the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    dtype = torch.float64 if torch.float64 in (x.dtype, y.dtype) else torch.float32
    return x.to(dtype), y.to(dtype)


def mae(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error per image (over ``mask`` when given)."""
    x, y = _pair(x, y)
    return _mean((x - y).abs(), mask)


def rmse(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Root mean squared error per image (over ``mask`` when given)."""
    x, y = _pair(x, y)
    return _mean((x - y) ** 2, mask).sqrt()


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``10 log10(data_range^2 / MSE)`` per image (over ``mask`` when given), capped at :data:`PSNR_CAP`."""
    x, y = _pair(x, y)
    mse = _mean((x - y) ** 2, mask)
    floor = data_range ** 2 * 10 ** (-PSNR_CAP / 10)
    return (10 * torch.log10(data_range ** 2 / mse.clamp_min(floor))).clamp_max(PSNR_CAP)


def _window(window: int, height: int, width: int) -> int:
    """The Gaussian window used on an image: ``window``, or the largest odd side that fits."""
    side = min(window, height, width)
    return side if side % 2 else side - 1


@functools.lru_cache(maxsize=64)
def _gaussian(window: int, dtype: torch.dtype, device: torch.device, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """The normalised 1-D Gaussian window, made once per window, dtype and device (a copy to
    a GPU on every call would make the host wait for it)."""
    x = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return (g / g.sum()).to(device=device, dtype=dtype)


def ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = SSIM_WINDOW,
              sample_covariance: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The SSIM map and the contrast-structure map, each (N, C, H - w + 1, W - w + 1) for the
    valid window positions (``w`` the window used, see :func:`_window`). Differentiable.
    Computed in float32 (or float64) even under autocast: the variances ``E[x^2] - E[x]^2``
    cancel in bf16/fp16, which made the SSIM loss's gradient wrong by several times its size."""
    if not torch.amp.is_autocast_available(x.device.type):  # (meta tensors: no autocast to leave)
        return _ssim_maps(*_pair(x, y), data_range, window, sample_covariance)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _ssim_maps(*_pair(x, y), data_range, window, sample_covariance)


def _ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int,
               sample_covariance: bool) -> tuple[torch.Tensor, torch.Tensor]:
    n, c, h, w = x.shape
    size = _window(window, h, w)
    if size < 1:
        raise ValueError(f"SSIM needs images of at least 1 x 1 pixel, got {h}x{w}")
    g = _gaussian(size, x.dtype, x.device)
    kh, kv = g.view(1, 1, 1, -1), g.view(1, 1, -1, 1)
    stack = torch.stack((x, y, x * x, y * y, x * y), 1).reshape(n * 5 * c, 1, h, w)
    stats = F.conv2d(F.conv2d(stack, kh), kv)
    mx, my, mxx, myy, mxy = stats.reshape(n, 5, c, *stats.shape[-2:]).unbind(1)
    norm = size * size / (size * size - 1) if sample_covariance and size > 1 else 1.0
    vx, vy, vxy = norm * (mxx - mx * mx), norm * (myy - my * my), norm * (mxy - mx * my)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    return (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs, cs


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = SSIM_WINDOW, *,
         sample_covariance: bool = False) -> torch.Tensor:
    """Mean SSIM per image (see the module docstring)."""
    return ssim_maps(x, y, data_range, window, sample_covariance)[0].flatten(1).mean(1)


def ms_ssim_scales(height: int, width: int, window: int = SSIM_WINDOW) -> int:
    """How many of the five MS-SSIM scales fit an image: each halving must still hold a
    whole window (0 when even the full-size image is smaller than the window)."""
    side = min(height, width)
    if side < window:
        return 0
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side // 2 >= window:
        side //= 2
        scales += 1
    return scales


@functools.lru_cache(maxsize=64)
def _scale_weights(scales: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The first ``scales`` MS-SSIM weights renormalised, made once per dtype and device."""
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=device, dtype=dtype)
    return weights / weights.sum()


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = SSIM_WINDOW) -> torch.Tensor:
    """Multi-scale SSIM per image (see the module docstring)."""
    x, y = _pair(x, y)
    scales = ms_ssim_scales(*x.shape[-2:], window=window)
    if scales == 0:
        return torch.full((x.shape[0],), float("nan"), device=x.device)
    weights = _scale_weights(scales, x.dtype, x.device)
    terms = []
    for scale in range(scales):
        full, cs = ssim_maps(x, y, data_range, window)
        terms.append((full if scale == scales - 1 else cs).flatten(1).mean(1).clamp_min(0))
        if scale < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.stack(terms, 1).pow(weights).prod(1)
