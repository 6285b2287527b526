"""Per-image metrics for ``i2i eval``: MAE (L1), PSNR, SSIM and MS-SSIM on the task's output
images in data units, overridden and extended by the task's own metrics."""

from __future__ import annotations


import torch
import torch.nn.functional as F

from i2i import metrics as M
from i2i.tasks import Task

#: The five scale weights of Wang, Simoncelli & Bovik (2003).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gaussian(window: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
    x = torch.arange(window, device=device, dtype=dtype) - (window - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, window, window).contiguous()


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, data_range: float, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and contrast-structure term per image (Gaussian window, no padding)."""
    c = x.shape[1]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=c)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim.flatten(1).mean(1), cs.flatten(1).mean(1)


def ms_ssim_scales(height: int, width: int, window: int = 11) -> int:
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


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = 11,
            sigma: float = 1.5) -> torch.Tensor:
    """Multi-scale SSIM per image (Wang et al. 2003; negative contrast terms clipped to 0, as
    torchmetrics' ``normalize="relu"``). Images too small for five scales use the scales
    that fit, their weights renormalised to sum to 1; images smaller than the window get NaN."""
    x, y = x.float(), y.float()
    scales = ms_ssim_scales(*x.shape[-2:], window=window)
    if scales == 0:
        return torch.full((x.shape[0],), float("nan"), device=x.device)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device)
    weights = weights / weights.sum()
    kernel = _gaussian(window, sigma, x.shape[1], x.device, x.dtype)
    terms = []
    for scale in range(scales):
        ssim, cs = _ssim_cs(x, y, data_range, kernel)
        terms.append((ssim if scale == scales - 1 else cs).clamp_min(0))
        if scale < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.stack(terms, 1).pow(weights).prod(1)


def data_range(task: Task) -> float:
    """The value range of the task's data units: ``task.data_range`` when it sets one
    (e.g. a Hounsfield window's width), else 1 (images in [0, 1])."""
    return float(getattr(task, "data_range", 1.0))


def image_metrics(task: Task, x: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image metrics (each a (N,) tensor) of a network-range ``output`` against ``target``
    for network input ``x``: ``mae`` (mean absolute error, L1), ``psnr`` (capped at
    :data:`i2i.metrics.PSNR_CAP`), ``ssim`` and ``ms_ssim`` of ``task.output_image`` images in
    data units, then ``task.metrics`` (whose values win for the names they share)."""
    own = {k: v.float().reshape(-1) for k, v in task.metrics(output, target, x=x).items()}
    o = task.output_image(x, output).float()
    t = task.output_image(x, target).float()
    r = data_range(task)
    generic = {"mae": lambda: M.mae(o, t), "psnr": lambda: M.psnr(o, t, r), "ssim": lambda: M.ssim(o, t, r),
               "ms_ssim": lambda: ms_ssim(o, t, r)}
    return {**{name: compute() for name, compute in generic.items() if name not in own}, **own}
