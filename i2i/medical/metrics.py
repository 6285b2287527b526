"""Per-image metrics for CT: PSNR and SSIM inside an HU window, RMSE and MAE in HU.

All functions take batches ``(N, C, H, W)`` in HU on any device and return ``(N,)`` float
tensors (one value per image, channels averaged). An optional ``mask`` (broadcastable to
the images, True = counted) restricts the average, e.g. to the reconstruction circle or
the body.

PSNR and SSIM first clip both images to the window ``[lo, hi]`` and use the window width as
the data range, so a score says how well the images agree as a radiologist would view
them in that window:

* ``psnr = 10 log10(width**2 / mse)`` (skimage's ``peak_signal_noise_ratio`` with
  ``data_range=width`` on the clipped images); identical images give ``inf``.
* ``ssim`` is Wang et al.'s SSIM with an 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
  averaged over the pixels whose window lies inside the image, computed on the windowed
  display images ``window_to_unit(hu)`` in [0, 1] (``lo`` -> 0): skimage's
  ``structural_similarity(window_to_unit(x), window_to_unit(y), data_range=1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``, or equally skimage on
  ``clip(hu, lo, hi) - lo`` with ``data_range=width``. ``sample_covariance=True`` gives
  skimage's default covariance normalisation. Identical images give 1. (SSIM's luminance
  term is not shift invariant, so SSIM of raw signed HU would be a different number; the
  display image is what is compared, as in most CT restoration papers.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from i2i.medical.hu import WindowLike, get_window


def psnr(pred: torch.Tensor, target: torch.Tensor, window: WindowLike = "full", *,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """PSNR in dB of ``pred`` against ``target`` inside ``window`` (``inf`` where identical)."""
    w = get_window(window)
    a, b = _clipped(pred, target, w.lo, w.hi)
    mse = _mean((a - b) ** 2, mask)
    return 10.0 * torch.log10(w.width ** 2 / mse)


def ssim(pred: torch.Tensor, target: torch.Tensor, window: WindowLike = "full", *,
         mask: torch.Tensor | None = None, sample_covariance: bool = False) -> torch.Tensor:
    """Mean SSIM of ``pred`` against ``target`` inside ``window`` (see the module docstring)."""
    w = get_window(window)
    a, b = _clipped(pred, target, w.lo, w.hi)
    a, b = (a - w.lo) / w.width, (b - w.lo) / w.width  # data range 1 after this
    n, c, h, wd = a.shape
    radius = 5  # int(3.5 * 1.5 + 0.5): skimage's truncate=3.5 with sigma 1.5
    if h <= 2 * radius or wd <= 2 * radius:
        raise ValueError(f"SSIM needs images larger than 11x11, got {h}x{wd}")
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-x ** 2 / (2 * 1.5 ** 2))
    g = (g / g.sum()).to(device=a.device, dtype=a.dtype)
    kernel_h, kernel_v = g.view(1, 1, 1, -1), g.view(1, 1, -1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # 'valid' separable Gaussian filter
        t = t.reshape(-1, 1, *t.shape[-2:])
        return F.conv2d(F.conv2d(t, kernel_h), kernel_v)

    stats = blur(torch.cat((a, b, a * a, b * b, a * b), dim=1).reshape(n * 5 * c, 1, h, wd))
    ux, uy, uxx, uyy, uxy = stats.reshape(n, 5, c, *stats.shape[-2:]).unbind(dim=1)
    norm = (2 * radius + 1) ** 2 / ((2 * radius + 1) ** 2 - 1) if sample_covariance else 1.0
    vx, vy, vxy = norm * (uxx - ux * ux), norm * (uyy - uy * uy), norm * (uxy - ux * uy)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    if mask is not None:
        mask = torch.broadcast_to(mask, pred.shape)[..., radius:h - radius, radius:wd - radius]
    return _mean(s, mask)


def rmse(pred: torch.Tensor, target: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Root-mean-square error in HU (no window, no clipping)."""
    return _mean((pred.float() - target.float()) ** 2, mask).sqrt()


def mae(pred: torch.Tensor, target: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error in HU (no window, no clipping)."""
    return _mean((pred.float() - target.float()).abs(), mask)


def ct_metrics(pred: torch.Tensor, target: torch.Tensor, window: WindowLike = "full", *,
               mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The CT tasks' metrics, each ``(N,)``: ``psnr`` inside ``window`` (capped at
    :data:`i2i.metrics.PSNR_CAP`, as every reported PSNR), ``ssim`` inside ``window`` over
    the whole slice, ``rmse_hu`` and ``mae_hu``; ``mask`` restricts psnr, rmse and mae
    (SSIM's windows would straddle its edge)."""
    from i2i.metrics import PSNR_CAP

    return {"psnr": psnr(pred, target, window, mask=mask).clamp_max(PSNR_CAP), "ssim": ssim(pred, target, window),
            "rmse_hu": rmse(pred, target, mask=mask), "mae_hu": mae(pred, target, mask=mask)}


def _clipped(pred: torch.Tensor, target: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two batches (N, C, H, W) of the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    dtype = torch.float64 if torch.float64 in (pred.dtype, target.dtype) else torch.float32
    return pred.to(dtype).clamp(lo, hi), target.to(dtype).clamp(lo, hi)


def _mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per-image mean over (C, H, W), optionally over ``mask`` only (NaN where it is empty)."""
    if values.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(values.shape)}")
    if mask is None:
        return values.flatten(1).mean(dim=1)
    weight = torch.broadcast_to(mask, values.shape).to(values.dtype)
    return (values * weight).flatten(1).sum(dim=1) / weight.flatten(1).sum(dim=1)

