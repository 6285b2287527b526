"""Per-image quality metrics (batched): MAE, RMSE, PSNR, SSIM and MS-SSIM: the one home of
each, used by validation, ``i2i eval``, the CT metrics and the SSIM loss; and metrics as
records (:class:`Metric`: name, computation, direction, data range, as torchmetrics
declares them), collected per task in a :class:`MetricTable` that validation, ``i2i eval``,
best-checkpoint selection, schedules that follow a metric, ``eval.json`` and the report read.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from i2i.taskspec import TaskSpec

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


# ---- metrics as records ---------------------------------------------------------------------

#: Prefixes of logged metric names: the validation of the model, of its EMA, of the input
#: itself (the identity baseline); longest first, so ``val_ema_psnr`` strips to ``psnr``.
LOG_PREFIXES = ("val_input_", "val_ema_", "val_")


class ScoredImages:
    """One batch to score: the network input ``x``, a network-range ``output`` and ``target``
    (``N, C, H, W``) of ``task``; the data-unit images (what ``i2i predict`` writes:
    ``task.finalize_output(task.decode_output(...))``, float64) are decoded once, on first use.
    ``samples``: the decoded batch they came from (``path``, ``spacing``, ``region``...), or
    empty. ``cache`` lets metrics computed together (a task's) share work."""

    def __init__(self, task: TaskSpec, x: torch.Tensor, output: torch.Tensor, target: torch.Tensor,
                 samples: Mapping[str, Any] | None = None):
        self.task, self.x, self.output, self.target = task, x, output, target
        self.samples: Mapping[str, Any] = samples or {}
        self.cache: dict[Any, Any] = {}

    @cached_property
    def output_data(self) -> torch.Tensor:
        return self.task.finalize_output(self.task.decode_output(self.x, self.output)).double()

    @cached_property
    def target_data(self) -> torch.Tensor:
        return self.task.finalize_output(self.task.decode_output(self.x, self.target)).double()

    @property
    def data_range(self) -> float:
        """The span of the task's data units (1 for images in [0, 1], a HU window's width for CT)."""
        return float(self.task.data_range)


@dataclass(frozen=True)
class Metric:
    """A metric, as torchmetrics declares one: its ``name``; ``compute(images)`` -> one value
    per image, ``(N,)`` (``images`` a :class:`ScoredImages`); whether a higher value is better;
    the ``data_range`` it is computed on when fixed (``None``: the task's ``data_range``); and a
    one-line ``doc``. ``on_request`` metrics (FID, KID and LPIPS, which need weights files)
    are computed by ``i2i eval`` alone when asked, not on every image: their record says
    which way they improve and needs no ``compute``. ``applies(images)`` -> ``(N,)`` bool: the
    images it is meant for (None: all); on the others it is "not applicable", not a failure."""

    name: str
    higher_is_better: bool
    compute: Callable[[ScoredImages], torch.Tensor] | None = None
    data_range: float | None = None
    doc: str = ""
    on_request: bool = False
    applies: Callable[[ScoredImages], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"a metric's name is a Python identifier such as 'dice', got {self.name!r}")
        if not isinstance(self.higher_is_better, bool):
            raise ValueError(f"metric {self.name!r}: higher_is_better must be True or False, "
                             f"got {self.higher_is_better!r}")
        if not self.on_request and not callable(self.compute):
            raise ValueError(f"metric {self.name!r}: needs compute(images) -> one value per image, (N,)")


def _generic(name: str, higher: bool, fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
             doc: str) -> Metric:
    return Metric(name, higher, lambda images: fn(images.output_data, images.target_data, images.data_range), doc=doc)


#: The metrics of every task, computed on its output images in data units with the task's data range.
GENERIC_METRICS: tuple[Metric, ...] = (
    _generic("mae", False, lambda o, t, r: mae(o, t),
             "mean absolute error in data units (HU for CT, [0, 1] for images) over the whole image"),
    _generic("psnr", True, psnr, "peak signal-to-noise ratio in dB over the task's data range"),
    _generic("ssim", True, ssim, "structural similarity, 11 x 11 Gaussian window (skimage's)"),
    _generic("ms_ssim", True, ms_ssim, "multi-scale SSIM, five scales"),
)


@dataclass
class MetricTable:
    """The metrics of one task: the generic ones (registered with ``register_metrics``) and
    the task's own (``task.task_metrics()``), which win for the names they share. The one
    place that says which way a metric improves, for any logged name (``val_psnr``,
    ``val_ema_mae``, ``val_input_ssim`` -> ``psnr``, ``mae``, ``ssim``)."""

    metrics: Mapping[str, Metric] = field(default_factory=dict)

    @classmethod
    def of(cls, generic: Iterable[Metric], task: TaskSpec | None = None) -> MetricTable:
        """The table of ``task``: ``generic`` records, then the task's own."""
        table = {m.name: m for m in generic}
        own = task.task_metrics() if task is not None and hasattr(task, "task_metrics") else ()
        for metric in own:
            if not isinstance(metric, Metric):
                raise TypeError(f"task {type(task).__name__}: task_metrics() gave {type(metric).__name__}, not an "
                                "i2i.metrics.Metric")
            table[metric.name] = metric
        return cls(table)

    @classmethod
    def registered(cls, registry: Any, task: TaskSpec | None = None) -> MetricTable:
        """The table of ``task`` over the generic metrics of a metrics registry (the loaded
        plugins' ``register_metrics``); a factory that gives no :class:`Metric` fails naming
        its plugin."""
        generic = []
        for component in registry:
            metric = component.factory()
            if not isinstance(metric, Metric):
                raise TypeError(f"metric {component.name!r} (plugin {component.plugin!r}): its factory returned "
                                f"{type(metric).__name__}, not an i2i.metrics.Metric")
            generic.append(metric)
        return cls.of(generic, task)

    def names(self) -> tuple[str, ...]:
        """The per-image metrics scored on every image, in table order."""
        return tuple(name for name, m in self.metrics.items() if not m.on_request)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.base_name(name) in self.metrics

    def base_name(self, name: str) -> str:
        """``val_ema_psnr`` -> ``psnr``: a logged name without its prefix."""
        for prefix in LOG_PREFIXES:
            if name.startswith(prefix) and name[len(prefix):] in self.metrics:
                return name[len(prefix):]
        return name

    def get(self, name: str) -> Metric:
        """The record of a (possibly prefixed) metric name; KeyError naming the known ones."""
        try:
            return self.metrics[self.base_name(name)]
        except KeyError:
            raise KeyError(f"no metric {name!r}; known: {', '.join(self.metrics)}") from None

    def higher_is_better(self, name: str) -> bool:
        """Whether ``name`` (possibly prefixed) improves upwards."""
        return self.get(name).higher_is_better

    def better(self, name: str, value: float, than: float) -> bool:
        """Whether ``value`` of metric ``name`` is better than ``than``."""
        return value > than if self.higher_is_better(name) else value < than

    def validation_names(self, ema: bool = True, baseline: bool = True) -> list[str]:
        """Every name a validation pass logs: ``val_<metric>``; ``val_ema_<metric>`` with ``ema``;
        ``val_input_<metric>`` with the identity ``baseline``."""
        prefixes = ["val_", *(["val_ema_"] if ema else []), *(["val_input_"] if baseline else [])]
        return [prefix + name for prefix in prefixes for name in self.names()]

    def score(self, images: ScoredImages) -> dict[str, torch.Tensor]:
        """Every per-image metric of ``images``, each a float64 ``(N,)`` tensor."""
        return {name: self.metrics[name].compute(images).double().reshape(-1) for name in self.names()}
