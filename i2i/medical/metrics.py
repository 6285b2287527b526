"""Per-image metrics for CT: PSNR and SSIM inside an HU window, RMSE and MAE in HU, and the
clinical-window measures (brain-band MAE, windowed PSNR/SSIM over a mask, the body, uniform
regions and the mean-HU bias in them; see the section at the end).

All functions take batches ``(N, C, H, W)`` in HU on any device and return ``(N,)`` float
tensors (one value per image, channels averaged). An optional ``mask`` (broadcastable to
the images, True = counted) restricts the average, e.g. to the reconstruction circle or
the body.

PSNR and SSIM first clip both images to the window ``[lo, hi]`` and use the window width as
the data range, so a score says how well the images agree as a radiologist would view
them in that window:

* ``psnr = 10 log10(width**2 / mse)`` (skimage's ``peak_signal_noise_ratio`` with
  ``data_range=width`` on the clipped images); identical images give
  :data:`i2i.image_metrics.PSNR_CAP` (100 dB).
* ``ssim`` is Wang et al.'s SSIM with an 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
  averaged over the pixels whose window lies inside the image, computed on the windowed
  display images ``window_to_unit(hu)`` in [0, 1] (``lo`` -> 0): skimage's
  ``structural_similarity(window_to_unit(x), window_to_unit(y), data_range=1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``, or equally skimage on
  ``clip(hu, lo, hi) - lo`` with ``data_range=width``. ``sample_covariance=True`` gives
  skimage's default covariance normalisation. Identical images give 1. (SSIM's luminance
  term is not shift invariant, so SSIM of raw signed HU would be a different number; the
  display image is what is compared, as in most CT restoration papers.) The computation
  itself is :func:`i2i.image_metrics.ssim`, the project's one SSIM.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from i2i import image_metrics as M
from i2i.medical.hu import WindowLike, get_window
from i2i.metrics import Metric, ScoredImages


def psnr(pred: torch.Tensor, target: torch.Tensor, window: WindowLike = "full", *,
         mask: torch.Tensor | None = None) -> torch.Tensor:
    """PSNR in dB of ``pred`` against ``target`` inside ``window`` (capped at
    :data:`i2i.image_metrics.PSNR_CAP` where identical)."""
    w = get_window(window)
    a, b = _clipped(pred, target, w.lo, w.hi)
    return M.psnr(a, b, w.width, mask=mask)


def ssim(pred: torch.Tensor, target: torch.Tensor, window: WindowLike = "full", *,
         sample_covariance: bool = False) -> torch.Tensor:
    """Mean SSIM of ``pred`` against ``target`` inside ``window`` (see the module docstring):
    :func:`i2i.image_metrics.ssim` of the windowed display images in [0, 1]."""
    w = get_window(window)
    a, b = _clipped(pred, target, w.lo, w.hi)
    return M.ssim((a - w.lo) / w.width, (b - w.lo) / w.width, 1.0, sample_covariance=sample_covariance)


def rmse(pred: torch.Tensor, target: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Root-mean-square error in HU (no window, no clipping)."""
    return M.rmse(pred, target, mask=mask)


def mae(pred: torch.Tensor, target: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error in HU (no window, no clipping)."""
    return M.mae(pred, target, mask=mask)


#: What :func:`ct_metrics` returns, each name with whether a higher value is better.
CT_METRICS = {"psnr": True, "ssim": True, "ms_ssim": True, "rmse_hu": False, "mae_hu": False}
_CT_DOCS = {"psnr": "PSNR in dB inside the metric window and the field of view",
            "ssim": "SSIM of the windowed slice", "ms_ssim": "MS-SSIM of the windowed slice",
            "rmse_hu": "root-mean-square error in HU inside the field of view",
            "mae_hu": "mean absolute error in HU inside the field of view"}

#: ``images -> (prediction, target, mask)``: a batch's slices in HU and the pixels counted (or None).
InHU = Callable[[ScoredImages], tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]]


def ct_metric_records(window: WindowLike, in_hu: InHU) -> tuple[Metric, ...]:
    """The CT metrics (:data:`CT_METRICS`) as :class:`~i2i.metrics.Metric` records for a CT
    task, computed together once per batch by :func:`ct_metrics` inside ``window`` on the
    slices ``in_hu`` gives."""
    w = get_window(window)

    def computed(images: ScoredImages) -> dict[str, torch.Tensor]:
        key = ("ct_metrics", id(in_hu))
        if key not in images.cache:
            pred, target, mask = in_hu(images)
            images.cache[key] = ct_metrics(pred, target, w, mask=mask)
        return images.cache[key]

    return tuple(Metric(name, up, lambda images, name=name: computed(images)[name], data_range=float(w.width),
                        doc=_CT_DOCS[name]) for name, up in CT_METRICS.items())


def ct_metrics(pred: torch.Tensor, target: torch.Tensor, window: WindowLike = "full", *,
               mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The CT tasks' metrics, each ``(N,)``: ``psnr`` inside ``window`` (over ``mask`` when
    given), ``ssim`` and ``ms_ssim`` inside ``window`` over the whole slice (SSIM's windows
    would straddle a mask's edge), ``rmse_hu`` and ``mae_hu`` (over ``mask``)."""
    w = get_window(window)
    a, b = _clipped(pred, target, w.lo, w.hi)
    unit_a, unit_b = (a - w.lo) / w.width, (b - w.lo) / w.width
    return {"psnr": M.psnr(a, b, w.width, mask=mask), "ssim": M.ssim(unit_a, unit_b, 1.0),
            "ms_ssim": M.ms_ssim(unit_a, unit_b, 1.0),
            "rmse_hu": rmse(pred, target, mask=mask), "mae_hu": mae(pred, target, mask=mask)}


def _clipped(pred: torch.Tensor, target: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two batches (N, C, H, W) of the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    dtype = torch.float64 if torch.float64 in (pred.dtype, target.dtype) else torch.float32
    return pred.to(dtype).clamp(lo, hi), target.to(dtype).clamp(lo, hi)


# -- clinical windows and regions ---------------------------------------------------------------
#
# Plain functions of (pred, target, mask) in HU, batches (N, 1, H, W), one value per image, for
# scoring where a reader looks: the brain window on heads, soft tissue on the trunk, bone. PSNR in
# a window over a mask is :func:`psnr` with ``mask``.

#: The HU band of brain tissue (the brain window, W 80 / L 40): the pixels :func:`band_mae` scores on heads.
BRAIN_BAND = (0.0, 80.0)
#: Uniform regions (:func:`uniform_regions`): block side (pixels), the HU band of their mean (soft
#: tissue, blood, brain) and the largest standard deviation that counts as uniform, as a multiple of
#: the slice's own 10th-percentile block std (its noise level: anatomy only adds to a block's std).
UNIFORM_BLOCK, UNIFORM_BAND, UNIFORM_STD_FACTOR = 8, (-100.0, 200.0), 1.5


#: A connected piece of tissue is body when its thickness (the half-side of the largest square
#: inside it, in pixels) is at least this fraction of the thickest piece's: a head, a trunk, the
#: arms beside it, two legs. Not the table, a head holder, cables or a blanket: shells a few
#: millimetres thick, at 0..80 HU where they thin out, that would otherwise count as brain or soft
#: tissue. The measure is relative (no size in pixels: a skull is 2 pixels thick at 3 mm), so a
#: slice that holds only a table keeps it.
BODY_MIN_THICKNESS = 0.25


def body_mask(target: torch.Tensor, threshold: float = -500.0) -> torch.Tensor:
    """``(N, 1, H, W)`` bool: the body (head, trunk) of slices in HU: pixels above ``threshold``
    in a piece of tissue thick enough to be body (:func:`thick_pieces`: not the table or a head
    holder), with the air inside (sinuses, airways, bowel gas) filled: a pixel counts when body
    lies on both sides of it along its row and along its column."""
    tissue = thick_pieces(target > threshold)
    rows = tissue.cummax(-1).values & tissue.flip(-1).cummax(-1).values.flip(-1)
    cols = tissue.cummax(-2).values & tissue.flip(-2).cummax(-2).values.flip(-2)
    return rows & cols


def thick_pieces(tissue: torch.Tensor, fraction: float = BODY_MIN_THICKNESS) -> torch.Tensor:
    """The pieces of ``tissue`` (bool, ``(..., H, W)``; 8-connected, per image) whose thickness,
    the largest chessboard distance from one of their pixels to the nearest pixel outside them
    (the image's edge counts as outside: a piece cut off by it measures as cut), is at least
    ``fraction`` of the image's thickest piece's. On the CPU with scipy.ndimage (labels, a
    chamfer distance transform): a few milliseconds a 512-px slice."""
    from scipy import ndimage

    flat = tissue.detach().cpu().reshape(-1, *tissue.shape[-2:]).numpy()
    kept = np.zeros_like(flat)
    for i, image in enumerate(flat):
        labels, count = ndimage.label(image, structure=np.ones((3, 3)))
        if count == 0:
            continue
        depth = ndimage.distance_transform_cdt(np.pad(image, 1), metric="chessboard")[1:-1, 1:-1]
        thickness = np.array([depth[box][labels[box] == k].max()
                              for k, box in enumerate(ndimage.find_objects(labels), start=1)])
        wanted = 1 + np.flatnonzero(thickness >= fraction * thickness.max())
        kept[i] = np.isin(labels, wanted)
    return torch.from_numpy(kept).reshape(tissue.shape).to(tissue.device)


def band_mask(target: torch.Tensor, band: tuple[float, float], mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, 1, H, W)`` bool: pixels whose target lies in ``band`` ``[lo, hi]`` HU (and in ``mask``)."""
    inside = (target >= band[0]) & (target <= band[1])
    return inside if mask is None else inside & mask


def band_mae(pred: torch.Tensor, target: torch.Tensor, band: tuple[float, float] = BRAIN_BAND, *,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error in HU (unclipped) over the pixels whose target lies in ``band``
    (and ``mask``): the brain-window MAE with the default band and ``mask=body_mask(target)``."""
    return mae(pred, target, mask=band_mask(target, band, mask))


def window_ssim(pred: torch.Tensor, target: torch.Tensor, window: WindowLike, *,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM inside a display ``window`` (see the module docstring), over the SSIM windows
    centred on ``mask`` pixels when given (the whole slice otherwise)."""
    w = get_window(window)
    a, b = _clipped(pred, target, w.lo, w.hi)
    maps = M.ssim_maps((a - w.lo) / w.width, (b - w.lo) / w.width, 1.0)[0]
    if mask is None:
        return maps.flatten(1).mean(1)
    crop_h, crop_w = (pred.shape[-2] - maps.shape[-2]) // 2, (pred.shape[-1] - maps.shape[-1]) // 2
    inside = torch.broadcast_to(mask, pred.shape)[..., crop_h:crop_h + maps.shape[-2], crop_w:crop_w + maps.shape[-1]]
    weight = inside.to(maps.dtype)
    return (maps * weight).flatten(1).sum(1) / weight.flatten(1).sum(1)


def uniform_regions(target: torch.Tensor, *, block: int = UNIFORM_BLOCK, band: tuple[float, float] = UNIFORM_BAND,
                    std_factor: float = UNIFORM_STD_FACTOR, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, 1, H // block, W // block)`` bool: the uniform regions of target slices, as
    non-overlapping ``block`` x ``block`` blocks that lie wholly in ``mask`` (default: the body),
    whose mean is in ``band`` HU and whose std is at most ``std_factor`` times the slice's
    10th-percentile std of such blocks (its noise: anatomy only adds to a block's std)."""
    inside = body_mask(target) if mask is None else torch.broadcast_to(mask, target.shape)
    t = target.double()
    mean = F.avg_pool2d(t, block)
    std = (F.avg_pool2d(t * t, block) - mean * mean).clamp_min(0).sqrt()
    whole = F.avg_pool2d(inside.double(), block) == 1
    candidate = whole & (mean >= band[0]) & (mean <= band[1])
    out = torch.zeros_like(candidate)
    for i in range(target.shape[0]):
        if bool(candidate[i].any()):
            noise = std[i][candidate[i]].quantile(0.1)
            out[i] = candidate[i] & (std[i] <= std_factor * noise)
    return out


def uniform_bias(pred: torch.Tensor, target: torch.Tensor, regions: torch.Tensor,
                 block: int = UNIFORM_BLOCK) -> dict[str, torch.Tensor]:
    """Mean HU of ``pred`` against ``target`` in uniform regions (``regions`` from
    :func:`uniform_regions` with the same ``block``), each ``(N,)``: ``bias_hu``, the signed mean
    difference over all their pixels, and ``block_bias_hu``, the mean over blocks of the absolute
    difference of the block means (NaN for a slice without uniform regions)."""
    diff = F.avg_pool2d(pred.double() - target.double(), block)
    weight = regions.double()
    count = weight.flatten(1).sum(1)
    signed = (diff * weight).flatten(1).sum(1) / count
    absolute = (diff.abs() * weight).flatten(1).sum(1) / count
    return {"bias_hu": signed.float(), "block_bias_hu": absolute.float()}
