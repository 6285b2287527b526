"""CT metrics in the clinical windows a reader uses, as :class:`~i2i.metrics.Metric` records.

Each window is scored on the slices of the regions it is read for (:mod:`i2i.medical.regions`)
and is "not applicable" (NaN, counted apart from failures) on the others:

| metric | window | slices | pixels | data range |
|---|---|---|---|---|
| ``brain_psnr``, ``brain_ssim`` | brain, W 80 / L 40 | heads | target 0..80 HU inside the head | 80 HU |
| ``brain_mae_hu`` | - (unclipped HU) | heads | target 0..80 HU inside the head | - |
| ``soft_psnr``, ``soft_ssim`` | soft tissue, W 400 / L 40 | trunks | the body | 400 HU |
| ``soft_mae_hu`` | - (unclipped HU) | trunks | target -160..240 HU inside the body | - |
| ``bone_psnr`` | bone, W 2000 / L 500 | every slice | the body | 2000 HU |

PSNR and SSIM clip both images to the window first (:func:`i2i.medical.metrics.psnr`,
:func:`~i2i.medical.metrics.window_ssim`: SSIM windows centred on the pixels counted); the MAE
is :func:`~i2i.medical.metrics.band_mae`, the one brain-window MAE, over the pixels whose
target lies in the window's range. The brain window is scored on the brain (its band) alone,
as ``benchmarks/ct_clinical.py`` scores it: in a head, skull and scalp clip to the window's
ends in both images and would only dilute the error. The body is
:func:`~i2i.medical.metrics.body_mask` of the target (above -500 HU, thin pieces such as the
table and a head holder left out, air inside filled) within the pixels the task counts (the
field of view). A slice without the pixels a metric counts (a head slice without brain-range
tissue) is not applicable either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from i2i.medical.hu import Window, get_window, window_label
from i2i.medical.metrics import InHU, band_mae, band_mask, body_mask, psnr, window_ssim
from i2i.medical.regions import HEAD, TRUNK
from i2i.metrics import Metric, ScoredImages


@dataclass(frozen=True)
class ClinicalWindow:
    """A window scored on the slices of ``regions`` (empty: every slice): ``psnr`` always,
    ``ssim`` and ``mae_hu`` where ``detail`` (the windows a reader judges tissue in); PSNR and
    SSIM over the window's band of target values when ``in_band``, else over the body."""

    prefix: str
    window: Window
    regions: tuple[str, ...]
    detail: bool
    reads: str
    in_band: bool = False

    @property
    def band(self) -> tuple[float, float]:
        """The target values (HU) the window shows: its ``[lo, hi]``."""
        return self.window.lo, self.window.hi


#: The clinical windows, by metric prefix.
CLINICAL_WINDOWS = (
    ClinicalWindow("brain", get_window("brain"), (HEAD,), True, "heads", in_band=True),
    ClinicalWindow("soft", get_window("soft_tissue"), (TRUNK,), True, "trunks"),
    ClinicalWindow("bone", get_window("bone"), (), False, "every slice"),
)

#: ``images -> region of each image`` (``head``, ``trunk`` or ``unknown``).
Regions = Callable[[ScoredImages], Sequence[str]]


def clinical_metric_records(in_hu: InHU, regions: Regions) -> tuple[Metric, ...]:
    """The clinical-window metrics (module docstring) of the slices ``in_hu`` gives, each
    region from ``regions``; computed together once per batch."""
    def computed(images: ScoredImages) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        key = ("clinical_windows", id(in_hu))
        if key not in images.cache:
            pred, target, counted = in_hu(images)
            images.cache[key] = clinical_metrics(pred, target, list(regions(images)), counted)
        return images.cache[key]

    records = []
    for w in CLINICAL_WINDOWS:
        label = window_label(w.window)
        band = f"where the target is {w.band[0]:g}..{w.band[1]:g} HU inside the body (not the table or a head holder)"
        over = band if w.in_band else "over the body"
        docs = {"psnr": f"PSNR in dB in the {label} {over}; {w.reads}",
                "ssim": f"SSIM in the {label} {over}; {w.reads}",
                "mae_hu": f"mean absolute error in HU {band}; {w.reads}"}
        for part in ("psnr", "ssim", "mae_hu") if w.detail else ("psnr",):
            name = f"{w.prefix}_{part}"
            records.append(Metric(name, part != "mae_hu", lambda images, name=name: computed(images)[0][name],
                                  data_range=float(w.window.width) if part != "mae_hu" else None, doc=docs[part],
                                  applies=lambda images, name=name: computed(images)[1][name]))
    return tuple(records)


def clinical_metrics(pred: torch.Tensor, target: torch.Tensor, regions: Sequence[str],
                     counted: torch.Tensor | None = None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(values, applies)``: per clinical-window metric, ``(N,)`` values (NaN where it does not
    apply) and ``(N,)`` bool, for slices ``(N, 1, H, W)`` in HU of the given ``regions``, over
    the pixels ``counted`` (broadcastable; None: all)."""
    n = pred.shape[0]
    if len(regions) != n:
        raise ValueError(f"{len(regions)} region(s) for {n} slice(s)")
    body = body_mask(target)
    if counted is not None:
        body = body & torch.broadcast_to(counted.bool(), body.shape)
    has_body = body.flatten(1).any(1).cpu()
    values: dict[str, torch.Tensor] = {}
    applies: dict[str, torch.Tensor] = {}
    for w in CLINICAL_WINDOWS:
        meant = torch.tensor([not w.regions or r in w.regions for r in regions], dtype=torch.bool)
        in_band = band_mask(target, w.band, body)
        has_band = in_band.flatten(1).any(1).cpu()
        shown, has_shown = (in_band, has_band) if w.in_band else (body, has_body)  # what PSNR and SSIM count
        parts = {"psnr": (lambda p, t, m: psnr(p, t, w.window, mask=m), shown, has_shown)}
        if w.detail:
            parts["ssim"] = (lambda p, t, m: window_ssim(p, t, w.window, mask=m), shown, has_shown)
            parts["mae_hu"] = (lambda p, t, m: band_mae(p, t, w.band, mask=m), body, has_band)
        for part, (fn, mask, has) in parts.items():
            ok = meant & has
            out = torch.full((n,), float("nan"), dtype=torch.float64)
            rows = ok.nonzero().flatten()
            if rows.numel():
                picked = rows.to(pred.device)
                out[rows] = fn(pred[picked], target[picked], mask[picked]).double().cpu()
            values[f"{w.prefix}_{part}"], applies[f"{w.prefix}_{part}"] = out, ok
    return values, applies

