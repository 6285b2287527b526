"""Metrics as records (:class:`Metric`: name, computation, direction, data range, as
torchmetrics declares them), collected per task in a :class:`MetricTable` that validation,
``i2i eval``, best-checkpoint selection, schedules that follow a metric, ``eval.json`` and the
report read. The per-image kernels they compute with (MAE, RMSE, PSNR, SSIM, MS-SSIM) are in
:mod:`i2i.image_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch

from i2i.image_metrics import mae, ms_ssim, psnr, ssim

if TYPE_CHECKING:
    from i2i.taskspec import TaskSpec

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
