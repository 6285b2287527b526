"""CT restoration tasks: pairs simulated on the training device from clean slices in HU
(on :class:`i2i.medical.ct_task.CTTask`, the base a third-party CT task subclasses too).

``ct_sparse_view``: the input is the filtered back-projection from few views (streaks), the
target the clean slice (FBPConvNet's setting). ``ct_low_dose``: the input is the FBP of a
sinogram with Poisson photon noise (and optional electronic noise). Both keep values in HU
from the source to the output: the network sees HU mapped linearly from ``hu_range`` to
[-1, 1], outputs are mapped back to HU, metrics are computed in HU inside the field of view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Annotated, Any, Literal

import torch
from annotated_types import Gt

from i2i.data.pair_random import PairRandom
from i2i.medical.ct_task import CTTask, Region
from i2i.medical.noise import FULL_DOSE_I0
from i2i.medical.sampling import describe_views, parse_fraction, parse_views, views_for

Filter = Literal["ramp", "shepp-logan", "cosine", "hamming", "hann"]


class SparseViewTask(CTTask):
    """Sparse-view CT: the input is the filtered back-projection (``filter``) of a parallel-beam
    scan at ``views`` equally spaced angles over 180 degrees.

    Args:
        views: a view count (``100``), or a fraction of full angular sampling for each slice's
            size (``"1/8"``: full is ceil(pi/2 N) views for N pixels, made even; the fraction
            is rounded to the nearest count, halves up, at least 2: 25 views at 128 px, 101 at
            512 px), or a ``[lo, hi]`` range of counts or of fractions drawn per slice
            (augmentation; at evaluation each slice draws from its own seed).
        filter: the FBP filter.
        region: the body region of every slice ("head", "trunk"), or "auto": each slice's own
            (:mod:`i2i.medical.regions`); it picks the clinical windows it is scored and shown in.
    """

    def __init__(self, views: int | str | list[int] | list[str] = 60, filter: Filter = "ramp",
                 hu_range: tuple[float, float] = (-1024.0, 3071.0), metric_window: str | list[float] = "full",
                 display_window: str | list[float] = "abdomen", region: Region = "auto"):
        super().__init__(hu_range, metric_window, display_window, region)
        self.views = parse_views(views, "task.views")
        self.filter = filter

    @property
    def size_relative_input(self) -> bool:
        """A fraction of full sampling ("1/8") is the same sampling at every slice size: a model
        trained at 128 px applies to 512-px scans as they are (measured: a 1/8 phantom model on
        a 0.49 mm head, brain MAE 19.6 -> 8.6 HU natively against 19.6 -> 23 HU resampled to its
        1.95 mm and back, which also blurs the slice)."""
        views = self.views[0] if isinstance(self.views, tuple) else self.views
        return isinstance(views, Fraction)

    @property
    def deterministic_input(self) -> bool:
        """A fixed count or fraction gives every slice the same input every time (no draw)."""
        return not isinstance(self.views, tuple)

    def simulate(self, hu: torch.Tensor, random: PairRandom, batch: Mapping[str, Any]) -> torch.Tensor:
        from i2i.medical.physics import sparse_view

        size = hu.shape[-1]
        if isinstance(self.views, tuple):  # a count per slice
            views = random.randint(views_for(self.views[0], size), views_for(self.views[1], size) + 1)
        else:
            views = views_for(self.views, size)
        return sparse_view(hu, views, filter_name=self.filter)

    def acquisition(self, sizes: Sequence[int] = ()) -> dict[str, Any]:
        """The input: a sparse-view FBP, its sampling as given and in views at ``sizes``."""
        views = self.views
        given = [str(v) for v in views] if isinstance(views, tuple) else str(views)
        counts = {int(s): [views_for(v, int(s)) for v in views] if isinstance(views, tuple) else views_for(views, int(s))
                  for s in sizes}
        return {"input": "sparse-view FBP", "views": given, "filter": self.filter, "views_at_size": counts,
                "full_views": "ceil(pi/2 * N) views over 180 degrees for N pixels, made even",
                "description": f"a parallel-beam FBP ({self.filter} filter) from {describe_views(views, tuple(sizes))}"}


class LowDoseTask(CTTask):
    """Low-dose CT: the input is the slice with the noise of a scan at ``dose`` of the full dose
    inserted (Yu et al. 2012): Poisson photon noise of ``full_dose_I0`` x dose photons per
    detector bin and view (fewer for a real scan, whose own noise counts: see
    :mod:`i2i.medical.noise`), optional Gaussian electronic noise, reconstructed by FBP from
    ``views`` (default: full sampling).

    Args:
        dose: the fraction of full dose, ``0.25`` or ``"1/4"``; ``[lo, hi]`` draws it
            log-uniformly per slice (at evaluation from each slice's own seed).
        full_dose_I0: photons per detector bin and view of a full-dose scan; the default is
            calibrated on real scans (:mod:`i2i.medical.noise`).
        electronic_noise: std of the Gaussian electronic noise in counts; ``[lo, hi]`` draws it.
        views: as ``ct_sparse_view``'s, one count or fraction; default full sampling.
        pixel_size_mm: the pixel size that sets the attenuation scale; default each slice's own
            spacing (a 400 mm field of view when the data have none).
        simulation: ``fast`` (the noise made in the image from a bank of the projector's noise
            fields, about 12 ms a 512-px slice) or ``poisson`` (Poisson counts on the slice's own
            projections and an FBP, exact; about 1.6 s a 512-pixel slice on 2 CPU cores).
        filter: the FBP filter.
        region: as ``ct_sparse_view``'s.
    """

    def __init__(self, dose: float | str | list[float] = 0.25, full_dose_I0: Annotated[float, Gt(0)] = FULL_DOSE_I0,
                 electronic_noise: float | list[float] = 0.0, views: int | str | None = None,
                 pixel_size_mm: float | None = None, simulation: Literal["fast", "poisson"] = "fast",
                 filter: Filter = "ramp", hu_range: tuple[float, float] = (-1024.0, 3071.0),
                 metric_window: str | list[float] = "full", display_window: str | list[float] = "abdomen",
                 region: Region = "auto"):
        super().__init__(hu_range, metric_window, display_window, region)
        doses = [parse_fraction(d, "task.dose") for d in (dose if isinstance(dose, list) else [dose])]
        if len(doses) not in (1, 2) or doses[0] > doses[-1]:
            raise ValueError(f"task.dose: a fraction of full dose in (0, 1] or a range [lo, hi], got {dose}")
        self.dose = tuple(float(d) for d in doses) if len(doses) == 2 else float(doses[0])
        self.full_dose_I0 = float(full_dose_I0)
        self.noise = tuple(electronic_noise) if isinstance(electronic_noise, list) else electronic_noise
        if min(self.noise if isinstance(self.noise, tuple) else (self.noise,)) < 0:
            raise ValueError(f"task.electronic_noise: a std in counts >= 0 or a range, got {electronic_noise}")
        self.views = None if views is None else parse_views(views, "task.views")
        self.pixel_size_mm, self.simulation, self.filter = pixel_size_mm, simulation, filter

    def simulate(self, hu: torch.Tensor, random: PairRandom, batch: Mapping[str, Any]) -> torch.Tensor:
        from i2i.medical import noise as N
        from i2i.medical.sampling import full_view_count

        n, size = hu.shape[0], hu.shape[-1]
        views = full_view_count(size) if self.views is None else views_for(self.views, size)
        dose = self._draw(self.dose, random, log=True)
        sigma = self._draw(self.noise, random)
        noiseless = batch.get("noiseless")
        noiseless = torch.zeros(n, dtype=torch.bool) if noiseless is None else torch.as_tensor(noiseless).reshape(n)
        photons = N.inserted_photons(dose, self.full_dose_I0, noiseless).to(hu.device)
        pixel = self._pixel_mm(batch, n, size).to(hu.device)
        make = N.fast_noise if self.simulation == "fast" else N.poisson_noise
        if not random.per_image:
            return hu + make(hu, photons, sigma.to(hu.device), views, pixel, filter_name=self.filter)
        return hu + torch.cat([make(hu[i:i + 1], photons[i:i + 1], sigma[i:i + 1].to(hu.device), views,
                                    pixel[i:i + 1], generator=random.generator(i), filter_name=self.filter)
                               for i in range(n)])

    def acquisition(self, sizes: Sequence[int] = ()) -> dict[str, Any]:
        """The input: the slice at ``dose`` of the stated full dose, noise inserted."""
        views = "full angular sampling" if self.views is None else describe_views(self.views, tuple(sizes))
        dose = f"{self.dose[0]:g} to {self.dose[1]:g}" if isinstance(self.dose, tuple) else f"{self.dose:g}"
        return {"input": "low-dose FBP", "dose": list(self.dose) if isinstance(self.dose, tuple) else self.dose,
                "full_dose_I0": self.full_dose_I0, "simulation": self.simulation,
                "description": f"{dose} of full dose (full: {self.full_dose_I0:g} photons per detector bin and "
                               f"view), noise inserted into the slice ({self.simulation}), {views}"}

    def _draw(self, spec: float | tuple[float, float], random: PairRandom, log: bool = False) -> torch.Tensor:
        if not isinstance(spec, tuple):
            return torch.full((random.n,), float(spec))
        lo, hi = spec
        if log and lo > 0:
            return torch.exp(math.log(lo) + random.uniform(0.0, 1.0).cpu() * (math.log(hi) - math.log(lo)))
        return random.uniform(lo, hi).cpu()

    def _pixel_mm(self, batch: Mapping[str, Any], n: int, size: int) -> torch.Tensor:
        """Each slice's pixel size in mm: ``pixel_size_mm``, else the sample's spacing, else a 400 mm FOV."""
        from i2i.medical.noise import default_pixel_mm

        if self.pixel_size_mm is not None:
            return torch.full((n,), float(self.pixel_size_mm))
        spacing = batch.get("spacing")
        if isinstance(spacing, torch.Tensor):
            return spacing.float().reshape(n, -1).mean(dim=1)
        return torch.full((n,), default_pixel_mm(size))
