"""CT restoration tasks: pairs simulated on the training device from clean slices in HU.

``ct_sparse_view``: the input is the filtered back-projection from few views (streaks), the
target the clean slice (FBPConvNet's setting). ``ct_low_dose``: the input is the FBP of a
sinogram with Poisson photon noise (and optional electronic noise). Both keep values in HU
from the source to the output: the network sees HU mapped linearly from ``hu_range`` to
[-1, 1], outputs are mapped back to HU, metrics are computed in HU inside the field of view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch

from i2i.data.pair_random import PairRandom
from i2i.medical.fov import fov_mask, fov_mask_of
from i2i.medical.metrics import ct_metric_records
from i2i.metrics import Metric, ScoredImages
from i2i.tasks import Task

Filter = Literal["ramp", "shepp-logan", "cosine", "hamming", "hann"]


class CTTask(Task):
    """Shared by the CT tasks: HU normalisation, field-of-view masking, HU metrics, display.

    Targets are clipped below at -1000 HU (scanner padding is air) and set to air outside the
    inscribed circle (what a parallel-beam scan of that slice can reconstruct). Metrics:
    ``psnr`` inside that circle and ``ssim``, ``ms_ssim`` over the slice, within
    ``metric_window`` (a name such as "full" = [-1000, 1000], "abdomen", or [lo, hi] in HU;
    data range = its width); ``rmse_hu`` and ``mae_hu`` inside the circle (unclipped HU).
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
                 display_window: str | list[float] = "abdomen"):
        from i2i.medical.hu import get_window

        if not hu_range[0] < hu_range[1]:
            raise ValueError(f"hu_range must be [low, high] with low < high, got {list(hu_range)}")
        super().__init__(1, 1)
        self.hu_range = (float(hu_range[0]), float(hu_range[1]))
        self.metric_window = get_window(_window_arg(metric_window))
        self.display_window = get_window(_window_arg(display_window))

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
        from i2i.medical.hu import hu_to_network

        return hu_to_network(hu, *self.hu_range, clip=False)

    def to_hu(self, y: torch.Tensor) -> torch.Tensor:
        from i2i.medical.hu import network_to_hu

        return network_to_hu(y.float(), *self.hu_range)

    # -- pairs ----------------------------------------------------------------------------

    def simulate(self, hu: torch.Tensor, random: PairRandom) -> torch.Tensor:
        """The degraded reconstruction (HU) of clean slices, random choices drawn from ``random``."""
        raise NotImplementedError

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        hu = batch["target"]
        self.check_channels(hu, 1, "target", "task.out_channels", batch)
        if hu.shape[-1] != hu.shape[-2]:
            raise ValueError(f"CT slices must be square for the projector, got {hu.shape[-2]}x{hu.shape[-1]}; "
                             "use data.preprocess = \"resize_and_crop\" or a square crop")
        hu = self.clean(hu)
        return self.encode_input(self.simulate(hu, PairRandom.for_batch(batch, train))), self.encode_target(hu)

    # -- measuring and presentation -----------------------------------------------------------

    def task_metrics(self) -> tuple[Metric, ...]:
        """The CT metrics in HU (:func:`i2i.medical.metrics.ct_metric_records`) inside
        ``metric_window`` and the field of view."""
        return ct_metric_records(self.metric_window, self._slices_in_hu)

    def _slices_in_hu(self, images: ScoredImages) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out_hu, ref_hu = self.to_hu(images.output), self.to_hu(images.target)
        return out_hu, ref_hu, fov_mask(*out_hu.shape[-2:], device=out_hu.device).view(1, 1, *out_hu.shape[-2:])

    @property
    def data_range(self) -> float:
        """The metric window's width in HU: the data range of the generic image metrics."""
        return float(self.metric_window.width)

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        """HU -> [0, 1] through ``display_window`` (PNG previews, sample grids)."""
        from i2i.medical.hu import apply_window

        return apply_window(image, self.display_window)


def _window_arg(window: str | list[float]) -> Any:
    return tuple(window) if isinstance(window, (list, tuple)) else window


class SparseViewTask(CTTask):
    """Sparse-view CT: the input is the filtered back-projection (``filter``) of a parallel-beam
    scan at ``views`` equally spaced angles over 180 degrees; ``views = [lo, hi]`` draws a count
    per slice (augmentation; at evaluation each slice draws from its own seed)."""

    def __init__(self, views: int | list[int] = 60, filter: Filter = "ramp",
                 hu_range: tuple[float, float] = (-1024.0, 3071.0), metric_window: str | list[float] = "full",
                 display_window: str | list[float] = "abdomen"):
        super().__init__(hu_range, metric_window, display_window)
        counts = views if isinstance(views, list) else [views]
        if len(counts) not in (1, 2) or min(counts) < 2 or counts[0] > counts[-1]:
            raise ValueError(f"views must be a count >= 2 or a range [lo, hi], got {views}")
        self.views = tuple(counts) if len(counts) == 2 else int(counts[0])
        self.filter = filter

    def simulate(self, hu: torch.Tensor, random: PairRandom) -> torch.Tensor:
        from i2i.medical.physics import sparse_view

        views = self.views
        if isinstance(views, tuple):  # a count per slice
            views = random.randint(views[0], views[1] + 1)
        return sparse_view(hu, views, filter_name=self.filter)


class LowDoseTask(CTTask):
    """Low-dose CT: Poisson noise on the transmitted photon counts (``I0`` photons per detector
    bin and view; ``[lo, hi]`` draws log-uniformly per slice), optional Gaussian electronic
    noise (std in counts), then FBP from ``views`` (default: fully sampled) — the accepted
    pre-log noise insertion. ``pixel_size_mm`` sets the attenuation scale (default: a 400 mm
    field of view across the slice)."""

    def __init__(self, I0: float | list[float] = 1e5, electronic_noise: float | list[float] = 0.0,
                 views: int | None = None, pixel_size_mm: float | None = None, filter: Filter = "ramp",
                 hu_range: tuple[float, float] = (-1024.0, 3071.0), metric_window: str | list[float] = "full",
                 display_window: str | list[float] = "abdomen"):
        super().__init__(hu_range, metric_window, display_window)
        self.I0 = tuple(I0) if isinstance(I0, list) else I0
        self.noise = tuple(electronic_noise) if isinstance(electronic_noise, list) else electronic_noise
        if min(self.I0 if isinstance(self.I0, tuple) else (self.I0,)) <= 0:
            raise ValueError(f"I0 must be > 0, got {I0}")
        self.views, self.pixel_size_mm, self.filter = views, pixel_size_mm, filter

    def simulate(self, hu: torch.Tensor, random: PairRandom) -> torch.Tensor:
        from i2i.medical.physics import low_dose

        def scan(slices: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
            return low_dose(slices, self.I0, self.noise, views=self.views, pixel_size_mm=self.pixel_size_mm,
                            generator=generator, filter_name=self.filter)

        if not random.per_image:
            return scan(hu, None)
        return torch.cat([scan(hu[i:i + 1], random.generator(i)) for i in range(hu.shape[0])])
