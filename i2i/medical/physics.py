"""CT training pairs from clean HU slices: sparse-view and low-dose simulation.

Both functions take clean slices ``hu`` ``(N, 1, S, S)`` in HU on any device and return
the degraded reconstructions in HU, same shape, device and dtype, computed in batch with
:mod:`i2i.medical.projector` (parallel beam, FBP with linear interpolation):

* :func:`sparse_view` projects at ``views`` equally spaced angles over [0, 180) and
  reconstructs by FBP: the streak artefacts of FBPConvNet's setting (Jin et al. 2017).
* :func:`low_dose` is the usual pre-log noise insertion: HU -> linear attenuation
  ``mu = mu_water (1 + HU / 1000)`` (per mm), line integrals ``p = radon(mu) * pixel_mm``,
  transmitted counts ``Poisson(I0 exp(-p))`` plus optional Gaussian electronic noise,
  clamped to ``min_counts``, log back to ``p = log(I0 / counts)``, FBP, back to HU.
  ``I0`` is the unattenuated photon count per detector bin and view; the noise that a
  given ``I0`` gives grows with finer pixels and fewer views. With this ramp-filter FBP
  at a slice's native pixel size, 3.5e6 gives the noise of routine-dose clinical scans
  (:data:`i2i.medical.noise.FULL_DOSE_I0`, where the calibration is described; the
  ``ct_low_dose`` task inserts noise into real scans with :mod:`i2i.medical.noise`).

Conventions: HU below -1000 (padding values such as -2048 or -3024 outside a scanner's
field of view) are treated as air; everything outside the inscribed circle is lost by the
projector and comes back as air (-1000 HU): mask targets alike with
:func:`mask_outside_circle`. Views, ``I0`` and electronic noise may be drawn per sample
from ranges (see :func:`draw_per_sample`): pass a ``torch.Generator`` to make the draws
reproducible without touching the global RNG; a generator on another device than ``hu``
seeds a private generator on ``hu``'s device for the noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from i2i.medical.fov import circle_mask
from i2i.medical.angles import per_sample_angles
from i2i.medical.projector import fbp, radon
from i2i.medical.sampling import full_view_count

#: Linear attenuation coefficient of water in 1/mm at about 75 keV (the value Rit et al.,
#: Med. Phys. 2016, use for simulated CT noise; NIST XCOM gives 0.0194 at 70 keV, 0.0184 at 80 keV).
MU_WATER_PER_MM = 0.01879
#: Field of view assumed when no pixel size is given: a ``S``-pixel slice spans 400 mm.
DEFAULT_FOV_MM = 400.0
AIR_HU = -1000.0

Spec = float | int | tuple[float, float] | list[float] | torch.Tensor


def sparse_view(hu: torch.Tensor, views: Spec = 60, *, generator: torch.Generator | None = None,
                filter_name: str | None = "ramp", method: str = "joseph",
                chunk_size: int | None = None) -> torch.Tensor:
    """Sparse-view FBP reconstructions (HU) of clean slices ``hu`` ``(N, 1, S, S)``.

    ``views``: an int for every sample, ``(lo, hi)`` to draw an int per sample uniformly
    from ``lo..hi`` (inclusive) with ``generator``, or an ``(N,)`` tensor of counts.
    """
    _check(hu)
    counts = draw_per_sample(hu.shape[0], views, generator=generator, integer=True, device=hu.device)
    mu = relative_mu(hu)
    return _to_hu(_project_and_reconstruct(mu, counts, filter_name, method, chunk_size), hu.dtype)


def low_dose(hu: torch.Tensor, I0: Spec, electronic_noise_std: Spec = 0.0, *, views: Spec | None = None,
             pixel_size_mm: float | torch.Tensor | None = None, mu_water: float = MU_WATER_PER_MM,
             min_counts: float = 1.0, generator: torch.Generator | None = None, filter_name: str | None = "ramp",
             method: str = "joseph", chunk_size: int | None = None) -> torch.Tensor:
    """Low-dose FBP reconstructions (HU) of clean slices ``hu`` ``(N, 1, S, S)``.

    ``I0``: photons per detector bin and view, a number, ``(lo, hi)`` drawn log-uniformly per
    sample, or an ``(N,)`` tensor. ``electronic_noise_std``: std of the additive Gaussian
    noise in counts, a number, ``(lo, hi)`` drawn uniformly, or ``(N,)``. ``views`` as in
    :func:`sparse_view`; default :func:`full_view_count` ``(S)``. ``pixel_size_mm``: a number
    or ``(N,)`` (e.g. from PixelSpacing); default ``DEFAULT_FOV_MM / S``. Counts are clamped
    to at least ``min_counts`` before the log.
    """
    _check(hu)
    n, size = hu.shape[0], hu.shape[-1]
    i0 = draw_per_sample(n, I0, generator=generator, log=True, device=hu.device)
    sigma = draw_per_sample(n, electronic_noise_std, generator=generator, device=hu.device)
    counts = draw_per_sample(n, full_view_count(size) if views is None else views, generator=generator,
                             integer=True, device=hu.device)
    if bool((i0 <= 0).any()) or bool((sigma < 0).any()):
        raise ValueError(f"I0 must be > 0 and electronic_noise_std >= 0, got {i0.tolist()} and {sigma.tolist()}")
    pixel = torch.as_tensor(DEFAULT_FOV_MM / size if pixel_size_mm is None else pixel_size_mm,
                            dtype=torch.float32, device=hu.device).reshape(-1)
    pixel = pixel.expand(n).reshape(n, 1, 1, 1)
    noise_gen = generator_on(hu.device, generator)
    mu = relative_mu(hu) * mu_water  # 1/mm
    theta, mask = _angles(counts)
    p = radon(mu, theta, mask=mask, method=method, chunk_size=chunk_size) * pixel
    p_noisy = noisy_line_integrals(p, i0, sigma, generator=noise_gen, min_counts=min_counts)
    mu_rec = fbp(p_noisy / pixel, theta, mask=mask, filter_name=filter_name, chunk_size=chunk_size) / mu_water
    return _to_hu(mu_rec, hu.dtype)


def noisy_line_integrals(p: torch.Tensor, i0: torch.Tensor, electronic_noise_std: torch.Tensor, *,
                         generator: torch.Generator | None = None, min_counts: float = 1.0) -> torch.Tensor:
    """Measured line integrals of a scan with ``i0`` ``(N,)`` photons per bin and view: counts
    ``Poisson(i0 exp(-p))`` plus Gaussian electronic noise of std ``electronic_noise_std`` ``(N,)``,
    clamped to ``min_counts``, then ``log(i0 / counts)``. ``p`` ``(N, 1, V, D)``; ``generator``
    must live on ``p``'s device (see :func:`generator_on`)."""
    n = p.shape[0]
    i0, sigma = i0.reshape(n, 1, 1, 1), electronic_noise_std.reshape(n, 1, 1, 1)
    detected = torch.poisson(i0 * torch.exp(-p), generator=generator)
    if bool((sigma > 0).any()):
        detected = detected + torch.randn(detected.shape, generator=generator, device=p.device,
                                          dtype=detected.dtype) * sigma
    return torch.log(i0) - torch.log(detected.clamp(min=min_counts))


def mask_outside_circle(hu: torch.Tensor, fill: float = AIR_HU) -> torch.Tensor:
    """``hu`` ``(N, C, S, S)`` with everything outside the reconstruction circle set to ``fill``."""
    inside = circle_mask(hu.shape[-1], device=hu.device)
    return hu.masked_fill(~inside, fill)


def draw_per_sample(n: int, spec: Spec, *, generator: torch.Generator | None = None, log: bool = False,
                    integer: bool = False, device: torch.device | str | None = None) -> torch.Tensor:
    """``(n,)`` values from ``spec``: a number (the same for all), a 2-element tuple/list
    ``(lo, hi)`` (uniform draws; log-uniform with ``log``; integers ``lo..hi`` inclusive with
    ``integer``), or a tensor/sequence of ``n`` values. Draws use ``generator`` (on its own
    device) and are moved to ``device``."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and not isinstance(spec, torch.Tensor):
        lo, hi = float(spec[0]), float(spec[1])
        if hi < lo or (log and lo <= 0):
            raise ValueError(f"a range must be (lo, hi) with lo <= hi{' and lo > 0' if log else ''}, got {spec}")
        if integer:
            out = torch.randint(int(lo), int(hi) + 1, (n,), generator=generator, device=gen_device)
        else:
            u = torch.rand(n, generator=generator, device=gen_device).cpu().double()
            out = torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if log else lo + u * (hi - lo)
            out = out.float()
    elif isinstance(spec, (torch.Tensor, Sequence)):
        out = torch.as_tensor(spec).reshape(-1)
        if out.numel() != n:
            raise ValueError(f"expected {n} per-sample values or a (lo, hi) range, got {out.numel()} values")
    else:
        out = torch.full((n,), spec)
    return out.to(device=device, dtype=torch.long if integer else torch.float32)


def _angles(counts: torch.Tensor) -> tuple[torch.Tensor | int, torch.Tensor | None]:
    if bool((counts < 1).any()):
        raise ValueError(f"view counts must be >= 1, got {counts.tolist()}")
    if int(counts.min()) == int(counts.max()):
        return int(counts[0]), None
    return per_sample_angles(counts)


def _project_and_reconstruct(mu: torch.Tensor, counts: torch.Tensor, filter_name: str | None, method: str,
                             chunk_size: int | None) -> torch.Tensor:
    theta, mask = _angles(counts)
    sinogram = radon(mu, theta, mask=mask, method=method, chunk_size=chunk_size)
    return fbp(sinogram, theta, mask=mask, filter_name=filter_name, chunk_size=chunk_size)


def relative_mu(hu: torch.Tensor) -> torch.Tensor:
    """HU -> mu / mu_water (air 0, water 1); computed in float32 at least."""
    x = hu.float() if hu.dtype in (torch.float16, torch.bfloat16) or not hu.is_floating_point() else hu
    return (x.clamp(min=AIR_HU) - AIR_HU) / 1000.0


def _to_hu(rel_mu: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (rel_mu * 1000.0 + AIR_HU).to(dtype if dtype.is_floating_point else torch.float32)


def generator_on(device: torch.device, generator: torch.Generator | None) -> torch.Generator | None:
    """``generator`` if it lives on ``device``; else a generator on ``device`` seeded from it."""
    if generator is None or torch.device(generator.device).type == torch.device(device).type:
        return generator
    seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
    return torch.Generator(device=device).manual_seed(seed)


def _check(hu: torch.Tensor) -> None:
    if hu.ndim != 4 or hu.shape[1] != 1 or hu.shape[2] != hu.shape[3]:
        raise ValueError(f"expected square HU slices (N, 1, S, S), got shape {tuple(hu.shape)}")
