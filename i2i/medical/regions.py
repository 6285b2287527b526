"""The body region of a CT slice, head or trunk: which clinical windows a reader looks at it in.

A head is read in the brain window (W 80 / L 40) and the bone window; a trunk (chest,
abdomen, pelvis) in the soft-tissue window (W 400 / L 40) and the bone window. Where a
slice's region comes from, first to last:

- the recipe (``task.region = "head"`` or ``"trunk"``: every slice), else
- the data: a phantom knows what it drew; a DICOM series says it in its headers
  (:func:`region_of_tags`: BodyPartExamined, else keywords of StudyDescription,
  SeriesDescription and ProtocolName), else
- the slice itself (:func:`region_of_slice`): the body's area in mm², from the pixel
  spacing: an adult head is 140-200 mm across, a trunk 280-380 mm (a neck, or a small
  child's trunk, counts as a head by size alone: name the region in the recipe then).

A slice whose region stays unknown (no tags, no pixel spacing) is scored in neither the
brain nor the soft-tissue window.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from i2i.medical.metrics import body_mask

#: The regions, and what a slice is when nothing says.
HEAD, TRUNK, UNKNOWN = "head", "trunk", "unknown"
REGIONS = (HEAD, TRUNK)

#: Patterns (upper case) naming a head, a trunk, or a scan of both or neither (a head-and-neck
#: or whole-body scan) in DICOM tags; BodyPartExamined values run words together
#: ("ABDOMENPELVIS", "HEADNECK"), hence word starts.
HEAD_WORDS = re.compile(r"\b(HEAD|BRAIN|SKULL|CRANI|CEREBR|STROKE)")
TRUNK_WORDS = re.compile(r"\b(CHEST|THORA|LUNG|ABD|PELVI|LIVER|PANCREA|KIDNEY|RENAL|TORSO|CAP\b|COLON|CARDIAC|HEART|"
                         r"BREAST|[LT]-?SPINE|BODY)")
MIXED_WORDS = re.compile(r"NECK|WHOLE|\b(WB|PET|PETCT|TRAUMA)\b")

#: The windows a reader looks at a slice of each region in, first the one it is read in
#: (names of :data:`i2i.medical.hu.WINDOWS`): the held-out slices of the report.
VIEW_WINDOWS = {HEAD: ("brain", "bone"), TRUNK: ("soft_tissue",)}

#: The largest body area of a head slice in mm² (a 170 x 210 mm ellipse is 28,000 mm², the
#: shared real head's largest slice with its head rest 29,200 mm²; a slim adult thorax, 260 x
#: 180 mm, is 36,800 mm²); a larger body is a trunk.
HEAD_MAX_MM2 = 33_000.0


def region_of_words(text: str) -> str | None:
    """``head``, ``trunk`` or None (no region word, or words of both or of a mixed scan) for a
    tag's text, e.g. ``"CT HEAD W/O CONTRAST"`` -> ``head``, ``"CHEST ABDOMEN"`` -> ``trunk``."""
    text = str(text).upper()
    head, trunk = bool(HEAD_WORDS.search(text)), bool(TRUNK_WORDS.search(text))
    if MIXED_WORDS.search(text) or head == trunk:
        return None
    return HEAD if head else TRUNK


def region_of_tags(body_part: str = "", descriptions: Iterable[str] = ()) -> str | None:
    """The region a DICOM series' headers name: BodyPartExamined when it names one, else the
    first of ``descriptions`` (StudyDescription, SeriesDescription, ProtocolName) that does;
    None when none names exactly one region."""
    for text in (body_part, *descriptions):
        region = region_of_words(text) if text else None
        if region is not None:
            return region
    return None


def region_of_slice(hu: np.ndarray, spacing: tuple[float, float]) -> str:
    """``head`` or ``trunk`` by the area of the body of a slice ``(H, W)`` in HU
    (:func:`~i2i.medical.metrics.body_mask`: above -500 HU, table and holder left out, air
    inside filled) in mm²: up to :data:`HEAD_MAX_MM2` a head. ``unknown`` without a finite pixel
    spacing, without any body, or when a body that small touches the slice's edge (cut off: its
    size is not known)."""
    if not all(math.isfinite(float(s)) and float(s) > 0 for s in spacing):
        return UNKNOWN
    body = body_mask(torch.as_tensor(np.asarray(hu, dtype=np.float32))[None, None])[0, 0]
    if not bool(body.any()):
        return UNKNOWN
    area = float(body.sum()) * float(spacing[0]) * float(spacing[1])
    if area > HEAD_MAX_MM2:
        return TRUNK
    cut = bool(body[0].any() or body[-1].any() or body[:, 0].any() or body[:, -1].any())
    return UNKNOWN if cut else HEAD


def region_of_phantom(region: str) -> str:
    """A phantom's drawn region (head, thorax, abdomen, pelvis) as ``head`` or ``trunk``."""
    return HEAD if region == HEAD else TRUNK


def batch_regions(samples: Mapping[str, Any], target_hu: torch.Tensor, forced: str = "auto") -> list[str]:
    """The region of each slice of a batch ``(N, 1, H, W)`` in HU: ``forced`` unless "auto",
    else the sample's ``region`` (what its source knows), else :func:`region_of_slice` by the
    sample's ``spacing``."""
    n = target_hu.shape[0]
    if forced != "auto":
        return [forced] * n
    given, spacing = samples.get("region"), samples.get("spacing")
    out = []
    for i in range(n):
        region = given[i] if isinstance(given, (list, tuple)) and len(given) == n else None
        if region not in REGIONS:
            pixel = spacing[i].tolist() if isinstance(spacing, torch.Tensor) and len(spacing) == n else (math.nan,) * 2
            region = region_of_slice(target_hu[i, 0].detach().cpu().numpy(), pixel)
        out.append(region)
    return out
