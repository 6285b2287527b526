"""Random anatomical axial CT phantoms in Hounsfield units, drawn in millimetres.

Each phantom is an axial slice of a body region of :data:`REGIONS` (head, thorax,
abdomen, pelvis) drawn in patient millimetres at adult sizes (heads 140-160 mm wide and
175-200 mm front to back, trunks 280-380 mm wide), on a stated square field of view
(:data:`DEFAULT_FOV_MM`, or ``fov_mm``), then rasterised with anti-aliased
(partial-volume) edges at any size: pixels are ``fov / size`` mm (:func:`phantom_spacing`).
The body stays inside the inscribed circle, as the CT projector assumes (anatomy that a
small ``fov_mm`` could not hold is shrunk to fit; pixels outside the projector's circle
are air).

The regions: :mod:`i2i.medical.phantom_head` (scalp, skull with diploe, brain with grey
and white matter, ventricles, sinuses, mastoid air cells, orbits, by slice level),
:mod:`i2i.medical.phantom_trunk`; tissue values and their sources:
:mod:`i2i.medical.phantom_tissues`; drawing and rasterising: :mod:`~i2i.medical.phantom_pen`,
:mod:`~i2i.medical.phantom_raster`.

Default fields of view: head 250 mm, the display field of head CT (the head's 200 mm
with room for the scalp and holder; the shared real head scans are reconstructed at
243 and 250 mm, i.e. 0.47-0.49 mm pixels on 512); trunk 400 mm, an adult body's skin
line with a margin (0.78 mm pixels on 512; the usual adult display fields are 350-450 mm,
larger where the table is kept).

Reproducibility: phantom ``index`` of ``seed`` depends only on ``(seed, index)`` and the
options (``regions``, ``fov_mm``), not on the batch it is drawn in nor on the image size:
its region and field of view come from ``numpy.random.default_rng([seed, index, 0])``,
its anatomy from ``default_rng([seed, index, 1])``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from i2i.errors import did_you_mean, one_of
from i2i.medical.phantom_head import draw_head
from i2i.medical.phantom_pen import Pen
from i2i.medical.phantom_raster import Scene, rasterise
from i2i.medical.phantom_trunk import TRUNK_REGIONS, draw_trunk

#: The body regions, in the order the default mix lists them.
REGIONS = ("head", *TRUNK_REGIONS)

#: The field of view (mm) of each region unless ``fov_mm`` says otherwise (see above).
DEFAULT_FOV_MM = {"head": 250.0, "thorax": 400.0, "abdomen": 400.0, "pelvis": 400.0}

#: The body reaches at most this fraction of the field of view's half-width from the centre.
BODY_REACH = 0.94

RegionsLike = str | Sequence[str] | Mapping[str, float] | None
FovLike = float | Mapping[str, float] | None


def region_weights(regions: RegionsLike = None) -> dict[str, float]:
    """The mix of regions as ``{region: probability}``: ``None`` (all regions, equally),
    a region name, a list of names (equally) or a table ``{name: weight}``."""
    if regions is None:
        regions = REGIONS
    if isinstance(regions, str):
        regions = [regions]
    if not isinstance(regions, (Mapping, Sequence)):
        raise ValueError(f"the region mix is a region name, a list of names or a table {{name = weight}}, "
                         f"got {regions!r}")
    table = dict(regions) if isinstance(regions, Mapping) else {name: 1.0 for name in regions}
    for name, weight in table.items():
        if name not in REGIONS:
            raise ValueError(f"unknown body region {name!r}{did_you_mean(str(name), REGIONS)}; "
                             f"accepted: {one_of(REGIONS)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise ValueError(f"region weights must be numbers >= 0, got {name} = {weight!r}")
    total = sum(float(w) for w in table.values())
    if not total > 0:
        raise ValueError(f"the region mix needs at least one region with a weight > 0, got {dict(table)}")
    return {name: float(table[name]) / total for name in REGIONS if name in table}


def region_fov(region: str, fov_mm: FovLike = None) -> float:
    """The field of view (mm) of ``region``: ``fov_mm`` (a number for every region, or a
    table ``{region: mm}`` overriding some) over :data:`DEFAULT_FOV_MM`."""
    fov = fov_mm.get(region, DEFAULT_FOV_MM[region]) if isinstance(fov_mm, Mapping) else \
        DEFAULT_FOV_MM[region] if fov_mm is None else fov_mm
    if isinstance(fov, bool) or not isinstance(fov, (int, float)) or not fov > 0:
        raise ValueError(f"the field of view must be a number of mm > 0, got {fov!r} for {region}")
    return float(fov)


def check_fov(fov_mm: FovLike) -> None:
    """Raise ValueError for a field-of-view option that names unknown regions or is not > 0."""
    if isinstance(fov_mm, Mapping):
        for name in fov_mm:
            if name not in REGIONS:
                raise ValueError(f"field of view for unknown body region {name!r}{did_you_mean(str(name), REGIONS)}; "
                                 f"accepted: {one_of(REGIONS)}")
    for region in REGIONS:
        region_fov(region, fov_mm)


def phantom_plan(seed: int, index: int, regions: RegionsLike = None, fov_mm: FovLike = None) -> tuple[str, float]:
    """Region and field of view (mm) of phantom ``index`` of ``seed`` (cheap: no anatomy)."""
    weights = region_weights(regions)
    rng = np.random.default_rng([int(seed), int(index), 0])
    names = list(weights)
    region = names[int(rng.choice(len(names), p=list(weights.values())))]
    return region, region_fov(region, fov_mm)


def phantom_spacing(seed: int, index: int, size: int, regions: RegionsLike = None,
                    fov_mm: FovLike = None) -> tuple[float, float]:
    """Pixel spacing ``(row_mm, col_mm)`` of phantom ``index`` of ``seed`` at ``size`` pixels."""
    _, fov = phantom_plan(seed, index, regions, fov_mm)
    return fov / size, fov / size


def phantom_scene(seed: int, index: int, regions: RegionsLike = None, fov_mm: FovLike = None) -> Scene:
    """The drawn (not yet rasterised) phantom ``index`` of ``seed``: its region, field of
    view and primitives in mm, the same at every image size."""
    if int(seed) < 0 or int(index) < 0:
        raise ValueError(f"seed and index must be >= 0, got seed {seed}, index {index}")
    region, fov = phantom_plan(seed, index, regions, fov_mm)
    scene = Scene(region, fov)
    pen = Pen(np.random.default_rng([int(seed), int(index), 1]), scene)
    if region == "head":
        draw_head(pen)
    else:
        draw_trunk(pen, region)
    scene.fit(BODY_REACH * fov / 2)
    return scene


def render(scene: Scene, size: int, labels: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``scene`` at ``size x size`` pixels: HU float32 and (when ``labels``) the tissue label
    map (:data:`~i2i.medical.phantom_tissues.LABELS`), air outside the projector's circle."""
    if int(size) < 8:
        raise ValueError(f"phantom size must be >= 8 pixels, got {size}")
    hu, label = rasterise(scene, int(size), labels)
    r = np.arange(size) - size // 2
    outside = r[:, None] ** 2 + r[None, :] ** 2 > (size // 2) ** 2
    hu[outside] = -1000.0
    if label is not None:
        label[outside] = 0
    np.maximum(hu, -1000.0, out=hu)
    return hu, label


def phantoms(indices: Sequence[int] | torch.Tensor, size: int = 256, *, seed: int = 0, regions: RegionsLike = None,
             fov_mm: FovLike = None, device: torch.device | str | None = None,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Phantoms ``(N, 1, size, size)`` in HU for the given sample ``indices`` of ``seed``
    (regions drawn from the mix ``regions``, fields of view from ``fov_mm``; see
    :func:`region_weights`, :func:`region_fov`)."""
    idx = [int(i) for i in (indices.tolist() if isinstance(indices, torch.Tensor) else indices)]
    if int(size) < 8:
        raise ValueError(f"phantom size must be >= 8 pixels, got {size}")
    check_fov(fov_mm)
    images = [render(phantom_scene(seed, i, regions, fov_mm), int(size))[0] for i in idx]
    out = torch.from_numpy(np.stack(images)) if images else torch.empty(0, int(size), int(size))
    return out.unsqueeze(1).to(device=device or "cpu", dtype=dtype)


def random_phantoms(n: int, size: int = 256, *, generator: torch.Generator | None = None, seed: int | None = None,
                    regions: RegionsLike = None, fov_mm: FovLike = None, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` phantoms: indices ``0..n-1`` of ``seed``, or of a seed drawn from ``generator``
    (one 63-bit draw; the global RNG is used only when neither is given)."""
    if seed is None:
        gen_device = generator.device if generator is not None else "cpu"
        seed = int(torch.randint(0, 2**63 - 1, (), generator=generator, device=gen_device))
    return phantoms(range(n), size, seed=seed, regions=regions, fov_mm=fov_mm, device=device, dtype=dtype)
