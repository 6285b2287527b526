"""The base of the CT tasks (:class:`CTTask`): slices in HU from the source to the output.

The network sees HU mapped linearly from ``hu_range`` to [-1, 1], outputs are mapped back to
HU, metrics are computed in HU inside the field of view and in the clinical windows of each
slice's body region. A CT task subclasses it and says how its input is made from a clean
slice (:meth:`CTTask.simulate`); the built-in ``ct_sparse_view`` and ``ct_low_dose`` do.
Third-party CT tasks import it from :mod:`i2i.plugin_api`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import torch

from i2i.data.pair_random import PairRandom
from i2i.medical.fov import fov_mask, fov_mask_of
from i2i.medical.hu import (
    apply_window,
    get_window,
    hu_to_network,
    network_to_hu,
    window_label,
)
from i2i.medical.metrics import ct_metric_records
from i2i.medical.regions import VIEW_WINDOWS, batch_regions
from i2i.medical.window_metrics import clinical_metric_records
from i2i.metrics import Metric, ScoredImages
from i2i.tasks import Task

#: The body region of every slice, or ``auto``: each slice's own (:mod:`i2i.medical.regions`).
Region = Literal["auto", "head", "trunk"]


class CTTask(Task):
    """Shared by the CT tasks: HU normalisation, field-of-view masking, HU metrics, display.

    Targets are clipped below at -1000 HU (scanner padding is air) and set to air outside the
    inscribed circle (what a parallel-beam scan of that slice can reconstruct). Metrics:
    ``psnr`` inside that circle and ``ssim``, ``ms_ssim`` over the slice, within
    ``metric_window`` (a name such as "full" = [-1000, 1000], "abdomen", or [lo, hi] in HU;
    data range = its width); ``rmse_hu`` and ``mae_hu`` inside the circle (unclipped HU); and the
    clinical windows by each slice's body ``region`` (:mod:`i2i.medical.window_metrics`), in which
    the report shows held-out slices too. A sample's own ``input`` (real pairs) is used as it is.
    """

    recipe_defaults: ClassVar[dict[str, Any]] = {
        "source": {"name": "ct"},
        "data": {"preprocess": "none"},
        "augment": {"flip": True},
        "generator": {"name": "unet", "depth": 4, "ngf": 32, "norm": "batch", "dropout": 0.0,
                      "activation": "none", "residual": True},
        "discriminator": {"name": "patchgan", "n_layers": 3},
        "losses": {"gan": {"name": "lsgan", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }
    allows_photometric = False  # input HU carry the physics
    input_units = output_units = "hu"

    def __init__(self, hu_range: tuple[float, float] = (-1024.0, 3071.0), metric_window: str | list[float] = "full",
                 display_window: str | list[float] = "abdomen", region: Region = "auto"):
        if not hu_range[0] < hu_range[1]:
            raise ValueError(f"hu_range must be [low, high] with low < high, got {list(hu_range)}")
        super().__init__(1, 1)
        self.hu_range = (float(hu_range[0]), float(hu_range[1]))
        self.metric_window = get_window(_window_arg(metric_window))
        self.display_window = get_window(_window_arg(display_window))
        self.region = region

    def expected_channels(self) -> dict[str, int]:
        return {"input": 1, "target": 1}

    # -- values ---------------------------------------------------------------------------

    def to_data_units(self, image: torch.Tensor, role: str) -> torch.Tensor:
        """HU stay HU (float data: DICOM, NIfTI, NPY); integer images carry no HU scale."""
        if not image.dtype.is_floating_point:
            raise ValueError("a CT model takes HU values (float data: DICOM, NIfTI or float NPY files); got an "
                             "integer image (8/16-bit files carry no HU scale)")
        return image.float()

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """A reconstruction in HU -> the network input: below -1000 HU is air (scanner padding
        and streaks in air alike), then ``hu_range`` -> [-1, 1]."""
        if data.shape[1] != 1:
            raise ValueError(f"a CT model takes 1-channel slices, got {data.shape[1]} channels")
        return self.normalise(data.clamp_min(-1000.0))

    def encode_target(self, data: torch.Tensor) -> torch.Tensor:
        return self.normalise(data)

    def decode_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_hu(x)

    def decode_output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Network range -> HU."""
        return self.to_hu(y)

    def finalize_output(self, image: torch.Tensor) -> torch.Tensor:
        """A whole predicted slice in HU with air (-1000 HU) outside the field of view (the
        circle inscribed in the slice's square, as the projector sees it): nothing there was
        measured, as in the targets."""
        return image.masked_fill(~fov_mask_of(image), -1000.0)

    def clean(self, hu: torch.Tensor) -> torch.Tensor:
        """Air below -1000 HU and outside the field of view."""
        from i2i.medical.physics import mask_outside_circle

        return mask_outside_circle(hu.clamp_min(-1000.0))

    def normalise(self, hu: torch.Tensor) -> torch.Tensor:
        """HU -> network range: ``hu_range`` -> [-1, 1], linearly and without clipping, so bone
        and metal beyond ``hu_range`` keep their values end to end."""
        return hu_to_network(hu, *self.hu_range, clip=False)

    def to_hu(self, y: torch.Tensor) -> torch.Tensor:
        return network_to_hu(y.float(), *self.hu_range)

    # -- pairs ----------------------------------------------------------------------------

    def simulate(self, hu: torch.Tensor, random: PairRandom, batch: Mapping[str, Any]) -> torch.Tensor:
        """The degraded reconstruction (HU) of clean slices ``hu``, random choices drawn from
        ``random``; ``batch`` holds the samples' other keys (``spacing``, ``noiseless``)."""
        raise NotImplementedError

    def make_input(self, batch: Mapping[str, Any], train: bool) -> torch.Tensor:
        """The simulated input (HU) of the batch's clean targets."""
        hu = batch["target"]
        self.check_channels(hu, 1, "target", "task.out_channels", batch)
        if hu.shape[-1] != hu.shape[-2]:
            raise ValueError(f"CT slices must be square for the projector, got {hu.shape[-2]}x{hu.shape[-1]}; "
                             "use data.preprocess = \"resize_and_crop\" or a square crop")
        return self.simulate(self.clean(hu), PairRandom.for_batch(batch, train), batch)

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input, target)``: the batch's ``input`` when it has one (a real pair, or an input the
        data path kept, see :attr:`deterministic_input`), cleaned like the target; else the input
        simulated from the target."""
        made = batch.get("input")
        x = self.clean(made) if isinstance(made, torch.Tensor) else self.make_input(batch, train)
        return self.encode_input(x), self.encode_target(self.clean(batch["target"]))

    # -- measuring and presentation -----------------------------------------------------------

    def task_metrics(self) -> tuple[Metric, ...]:
        """The CT metrics in HU (:func:`i2i.medical.metrics.ct_metric_records`) inside
        ``metric_window`` and the field of view, and those of the clinical windows by region
        (:func:`i2i.medical.window_metrics.clinical_metric_records`)."""
        return (*ct_metric_records(self.metric_window, self._slices_in_hu),
                *clinical_metric_records(self._slices_in_hu, self.regions))

    def regions(self, images: ScoredImages) -> list[str]:
        """Each slice's body region: ``region`` unless "auto", else what its sample says or its
        size in mm (:func:`i2i.medical.regions.batch_regions`)."""
        return batch_regions(images.samples, self.to_hu(images.target), self.region)

    def reading_views(self, region: str | None) -> tuple[tuple[str, Callable[[torch.Tensor], torch.Tensor]], ...]:
        """A head in the brain and the bone window, a trunk in the soft-tissue window
        (:data:`i2i.medical.regions.VIEW_WINDOWS`), any other slice in ``display_window``."""
        windows = [get_window(name) for name in VIEW_WINDOWS.get(region, ())] or [self.display_window]
        return tuple((window_label(w), lambda image, w=w: apply_window(image, w)) for w in windows)

    def _slices_in_hu(self, images: ScoredImages) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out_hu, ref_hu = self.to_hu(images.output), self.to_hu(images.target)
        return out_hu, ref_hu, fov_mask(*out_hu.shape[-2:], device=out_hu.device).view(1, 1, *out_hu.shape[-2:])

    @property
    def data_range(self) -> float:
        """The metric window's width in HU: the data range of the generic image metrics."""
        return float(self.metric_window.width)

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        """HU -> [0, 1] through ``display_window`` (PNG previews, sample grids)."""
        return apply_window(image, self.display_window)


def _window_arg(window: str | list[float]) -> Any:
    return tuple(window) if isinstance(window, (list, tuple)) else window
