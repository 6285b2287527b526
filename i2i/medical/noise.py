"""Lower-dose CT from a scan by noise insertion: the noise a scan at a fraction ``dose`` of the
full dose carries, added to the slice (the projection-domain noise insertion of Yu et al.,
Med. Phys. 2012, and Zeng et al., Med. Phys. 2015, in parallel-beam 2-D).

Full dose is :data:`FULL_DOSE_I0` photons per detector bin and view at full angular sampling
(bins as wide as the slice's pixels). A real full-dose slice already carries the noise of
those photons; post-log variances add (``1 / (d I) = 1 / I + 1 / I_add``), so bringing it to
dose ``d`` inserts the noise of ``I_add = I d / (1 - d)`` photons (:func:`inserted_photons`);
a noise-free phantom gets the whole ``I d``.

Calibration of :data:`FULL_DOSE_I0`: it is the count at which the simulated noise (ramp-filter
FBP at the slice's native pixel size and full sampling) equals the measured noise of real
routine-dose scans: the median standard deviation of the uniform 8 x 8 blocks of soft tissue
(:func:`i2i.medical.metrics.uniform_regions`) of three slices of each. On the shared data the
matching count is 4.4e6 for the contrast abdomen (``pancreas``, 1.07 mm pixels, own noise 10.3
HU) and 3.1e6 for the head (``head_cptac_gbm``, 0.47 mm, 7.8 HU); 3.5e6 lies between. As a
check, the real low-dose PET/CT scan (``abdomen_pelvis_acrin``, 15.6 HU) matches 1.3e6, 0.29 of
the abdomen's count: the quarter-dose class. (Scans with thick slices or smooth kernels read as
higher counts: ``head_gantry_tilt``, 4-7 mm slices, 1.5e7.) The counts are far above the ~1e5
photons per ray of a real detector channel because clinical kernels are smoother than the
ramp filter and slices thicker than a pixel; the calibration folds both in, so the noise in HU
is the clinical one, with the ramp filter's texture. ``benchmarks/ct_physics.py --calibrate``
prints these measurements.

Two ways to draw the inserted noise, both returning HU noise images ``(N, 1, S, S)``:

* :func:`poisson_noise`: project the slice, draw Poisson counts (plus Gaussian electronic
  noise) at ``I_add``, take the log, subtract the noise-free line integrals and reconstruct
  that noise sinogram by FBP. Exact for this projector; a projection and an FBP at full
  views (about 1.6 s for a 512-pixel slice on 2 CPU cores).
* :func:`fast_noise`: the same noise as Gaussian post-log noise of variance
  ``v = 1/l + s**2/l**2`` (``l = I_add exp(-p)`` expected counts, ``s`` the electronic noise),
  made in the image. The views are split into :data:`SECTORS` angular sectors; for each, a
  bank of noise fields ``FBP(z)`` of unit white noise ``z`` on that sector's views (the
  projector's own texture; :data:`BANK_SIZE` fields per sector, drawn once per slice size and
  view count with a fixed seed, mixed with random unit weights at every draw) is scaled
  pixel by pixel by the root mean variance of that sector's rays through the pixel (an
  unfiltered back-projection of ``v``, computed at :data:`VARIANCE_SIZE` pixels and
  interpolated). The variance at each pixel is the Poisson path's wherever ``v`` varies
  slowly across a detector bin; directional noise (streaks along long or dense paths) is
  kept at the sectors' angular resolution. About 12 ms a 512-pixel slice on 2 CPU cores (BENCHMARKS.md).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from i2i.medical.fov import circle_mask
from i2i.medical.physics import (DEFAULT_FOV_MM, MU_WATER_PER_MM, generator_on, noisy_line_integrals,
                                 relative_mu)
from i2i.medical.angles import equal_angles
from i2i.medical.projector import backproject, fbp, radon
from i2i.medical.sampling import full_view_count

#: Photons per detector bin and view of a full-dose scan (see the module docstring for how it
#: was calibrated).
FULL_DOSE_I0 = 3.5e6
#: Angular sectors of :func:`fast_noise` (180 / 12 = 15 degrees each).
SECTORS = 12
#: Noise fields per sector in the bank of :func:`fast_noise`.
BANK_SIZE = 4
#: Side (pixels) at which :func:`fast_noise` computes the variance of the rays (smooth across
#: the slice: at 64 px it matches the Poisson noise as closely as at 128 px, in half the time).
VARIANCE_SIZE = 64
#: Seed of the noise-field banks (fixed: every process draws the same bank).
BANK_SEED = 20121


def inserted_photons(dose: torch.Tensor, full_dose_I0: float, noiseless: torch.Tensor) -> torch.Tensor:
    """Photons per bin and view whose noise, added to a slice, gives dose ``dose`` ``(N,)``:
    ``full_dose_I0 * dose / (1 - dose)`` for a full-dose scan (``inf`` at dose 1: nothing to add),
    ``full_dose_I0 * dose`` for a noise-free slice (``noiseless`` ``(N,)`` bool)."""
    dose = dose.double()
    real = torch.where(dose < 1, full_dose_I0 * dose / (1 - dose).clamp_min(1e-12),
                       torch.full_like(dose, math.inf))
    return torch.where(noiseless.to(dose.device), full_dose_I0 * dose, real).float()


def poisson_noise(hu: torch.Tensor, photons: torch.Tensor, electronic_noise_std: torch.Tensor, views: int,
                  pixel_mm: torch.Tensor, *, generator: torch.Generator | None = None,
                  filter_name: str | None = "ramp", mu_water: float = MU_WATER_PER_MM) -> torch.Tensor:
    """HU noise of ``photons`` ``(N,)`` per bin and view on slices ``hu`` ``(N, 1, S, S)``: Poisson
    counts on the slices' own projections at ``views`` angles, FBP of the post-log noise."""
    n = hu.shape[0]
    pixel = pixel_mm.reshape(n, 1, 1, 1)
    p = radon(relative_mu(hu) * mu_water, views) * pixel
    finite = torch.isfinite(photons)
    i0 = torch.where(finite, photons, torch.ones_like(photons))
    noise = noisy_line_integrals(p, i0, electronic_noise_std, generator=generator_on(hu.device, generator)) - p
    noise = noise * finite.reshape(n, 1, 1, 1)
    return fbp(noise / pixel, views, filter_name=filter_name) * (1000.0 / mu_water)


def fast_noise(hu: torch.Tensor, photons: torch.Tensor, electronic_noise_std: torch.Tensor, views: int,
               pixel_mm: torch.Tensor, *, generator: torch.Generator | None = None,
               filter_name: str | None = "ramp", mu_water: float = MU_WATER_PER_MM) -> torch.Tensor:
    """HU noise of ``photons`` ``(N,)`` per bin and view on slices ``hu`` ``(N, 1, S, S)`` at
    ``views`` angles, synthesised from a bank of sector noise fields (module docstring)."""
    n, size = hu.shape[0], hu.shape[-1]
    bank = noise_bank(size, views, filter_name, str(hu.device))  # (G, K, S, S)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    weights = torch.randn(n, SECTORS, BANK_SIZE, generator=generator, device=gen_device).to(hu.device)
    weights = weights / weights.norm(dim=-1, keepdim=True)
    fields = torch.einsum("ngk,gkhw->nghw", weights, bank)
    std = sector_variance(hu, photons, electronic_noise_std, pixel_mm, mu_water).sqrt()
    noise = (std * fields).sum(dim=1, keepdim=True)
    return noise / pixel_mm.reshape(n, 1, 1, 1) * (1000.0 / mu_water)


def sector_variance(hu: torch.Tensor, photons: torch.Tensor, electronic_noise_std: torch.Tensor,
                    pixel_mm: torch.Tensor, mu_water: float = MU_WATER_PER_MM) -> torch.Tensor:
    """``(N, SECTORS, S, S)``: the mean post-log variance of the rays through each pixel, over
    the views of each angular sector (at :data:`VARIANCE_SIZE` pixels, interpolated to ``S``)."""
    n, size = hu.shape[0], hu.shape[-1]
    low = min(size, VARIANCE_SIZE)
    mu = relative_mu(hu) * mu_water
    if low < size:
        mu = F.interpolate(mu, size=(low, low), mode="area")
    views = full_view_count(low)
    p = radon(mu, views) * (pixel_mm.reshape(n, 1, 1, 1) * (size / low))
    counts = photons.reshape(n, 1, 1, 1) * torch.exp(-p)
    sigma2 = electronic_noise_std.reshape(n, 1, 1, 1) ** 2
    variance = torch.minimum(1.0 / counts + sigma2 / counts ** 2, 1.0 + sigma2.amax())  # counts >= 1 as clamped
    angles = equal_angles(views, device=hu.device)
    maps = [backproject(variance[:, :, part], angles[part], output_size=low, angles_id=("sector", views, g))
            * (2.0 / math.pi) for g, part in enumerate(sector_slices(views))]
    out = torch.cat(maps, dim=1)
    if low < size:
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
    return out.clamp_min(0.0) * circle_mask(size, device=hu.device)


@lru_cache(maxsize=4)
def noise_bank(size: int, views: int, filter_name: str | None = "ramp", device: str = "cpu") -> torch.Tensor:
    """``(SECTORS, BANK_SIZE, size, size)`` float32 on ``device``: ``FBP`` (per-pixel units) of unit
    white noise on each sector's views, weighted as in a ``views``-view FBP; drawn once on the CPU,
    seeded by :data:`BANK_SEED` (the same bank on every device)."""
    if device != "cpu":
        return noise_bank(size, views, filter_name).to(device)
    generator = torch.Generator().manual_seed(BANK_SEED)
    angles = equal_angles(views)
    z = torch.randn(BANK_SIZE, 1, views, size, generator=generator)
    fields = [fbp(z[:, :, part], angles[part], filter_name=filter_name, keep_grids=False)[:, 0]
              * ((part.stop - part.start) / views) for part in sector_slices(views)]
    return torch.stack(fields)


def default_pixel_mm(size: int) -> float:
    """Pixel size assumed when a slice has none: a :data:`~i2i.medical.physics.DEFAULT_FOV_MM` field of view."""
    return DEFAULT_FOV_MM / size


def sector_slices(views: int) -> list[slice]:
    """The views of each of the :data:`SECTORS` angular sectors, of ``views`` equally spaced views
    over [0, 180): view ``k`` is in sector ``floor(k * G / V)``, so each sector is a run of
    views, ``ceil(g V / G)`` up to ``ceil((g + 1) V / G)`` (slices: no device value is read)."""
    return [slice(-(-g * views // SECTORS), -(-(g + 1) * views // SECTORS)) for g in range(SECTORS)]
