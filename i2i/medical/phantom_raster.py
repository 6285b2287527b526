"""Anti-aliased rasterising of phantom scenes drawn in millimetres.

A :class:`Scene` is an ordered list of primitives in patient millimetres (x to the
image's right, y down, origin at the image centre), each painting one HU value per
region over what is below it (``image += cover * (value - image)``), where ``cover`` in
[0, 1] is the pixel's partial-volume fraction: ``0.5 - signed distance / pixel size``,
clipped. The primitives:

* :class:`Layers` -- a star-shaped region about a centre, given by its boundary radius
  ``R(phi)`` in mm sampled on equally spaced angles (with ``dR/dphi``), and nested layers
  inside it (each its own radius table): a scalp, skull tables and brain in one pass.
  The signed distance is ``(r - R) / sqrt(1 + (R' / r)^2)``, exact to first order at the
  boundary however wavy ``R`` is.
* :class:`Capsule` -- a line segment with a radius (tapered from ``r0`` to ``r1``):
  exact distance; thin structures such as the falx, septa and optic nerves.
* :class:`Honeycomb` -- air cells with thin bony walls (mastoid, ethmoid): the Voronoi
  cells of seed points inside a star-shaped region, walls where the two nearest seeds
  are about equally far.

Painting is restricted to each primitive's bounding box, and everything is numpy float32
on the CPU, one phantom at a time, so a phantom costs the same in any batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Label of pixels that no single tissue covers completely (partial volume), in label maps.
MIXED = -1


@dataclass
class Layers:
    """Nested star-shaped regions about ``centre`` (mm). ``radius[k]`` is layer ``k``'s
    boundary radius in mm at angles ``2 pi j / L - pi`` (``L + 1`` samples, the last equal
    to the first), ``slope[k]`` its derivative per radian; layer ``k`` paints ``values[k]``
    HU and label ``labels[k]``; outer layers first."""

    centre: np.ndarray
    radius: np.ndarray
    slope: np.ndarray
    values: np.ndarray
    labels: np.ndarray

    def reach(self) -> float:
        return float(np.max(self.radius[0])) if len(self.radius) else 0.0

    def scaled(self, s: float) -> Layers:
        return Layers(self.centre * s, self.radius * s, self.slope * s, self.values, self.labels)


@dataclass
class Capsule:
    """The points within ``r0 .. r1`` mm (tapered along it) of the segment ``p0 -> p1``."""

    p0: np.ndarray
    p1: np.ndarray
    r0: float
    r1: float
    value: float
    label: int

    def scaled(self, s: float) -> Capsule:
        return Capsule(self.p0 * s, self.p1 * s, self.r0 * s, self.r1 * s, self.value, self.label)


@dataclass
class Honeycomb:
    """Cells of ``value`` HU (label ``label``) with walls ``wall`` mm thick, one cell per
    seed of ``seeds`` ``(M, 2)`` mm, clipped to the star-shaped region ``region`` (a
    one-layer :class:`Layers`; walls also line its boundary)."""

    region: Layers
    seeds: np.ndarray
    wall: float
    value: float
    label: int

    def scaled(self, s: float) -> Honeycomb:
        return Honeycomb(self.region.scaled(s), self.seeds * s, self.wall * s, self.value, self.label)


@dataclass
class Scene:
    """What one phantom is: its primitives in paint order, on a field of view of ``fov``
    mm; the first primitive's outer layer is the body (the texture is added inside it).
    ``waves`` ``(K, 4)``: texture plane waves (cycles/mm in x, y; phase; amplitude HU).
    ``level``: the slice level (mm; heads: above the orbits' centre), when the region has one."""

    region: str
    fov: float
    level: float | None = None
    items: list = field(default_factory=list)
    waves: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    def reach(self) -> float:
        """The largest distance from the image centre that the body reaches (mm)."""
        body = self.items[0]
        angles = np.linspace(-math.pi, math.pi, body.radius.shape[1])
        x = body.centre[0] + body.radius[0] * np.cos(angles)
        y = body.centre[1] + body.radius[0] * np.sin(angles)
        return float(np.sqrt(x * x + y * y).max())

    def fit(self, limit: float) -> float:
        """Shrink everything about the image centre so the body reaches at most ``limit``
        mm; returns the factor (1 when it already fits)."""
        s = min(1.0, limit / max(self.reach(), 1e-6))
        if s < 1.0:
            self.items = [item.scaled(s) for item in self.items]
            self.waves = self.waves.copy()
            self.waves[:, :2] /= s
        return s


def rasterise(scene: Scene, size: int, labels: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``scene`` on ``size x size`` pixels of ``scene.fov / size`` mm: HU ``(size, size)``
    float32, and the label map (int16, :data:`MIXED` at partial-volume pixels) when
    ``labels``."""
    px = scene.fov / size
    grid = (np.arange(size, dtype=np.float32) + np.float32(0.5 - size / 2)) * np.float32(px)
    image = np.full((size, size), -1000.0, dtype=np.float32)
    label = np.zeros((size, size), dtype=np.int16) if labels else None
    body = np.zeros((size, size), dtype=np.float32)
    for n, item in enumerate(scene.items):
        paint = {Layers: _paint_layers, Capsule: _paint_capsule, Honeycomb: _paint_honeycomb}[type(item)]
        paint(item, grid, px, image, label, body if n == 0 else None)
    if len(scene.waves):
        image += body * _texture(scene.waves, grid)
    return image, label


def _box(grid: np.ndarray, px: float, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice] | None:
    """Rows and columns of the pixels whose centres lie within ``[lo, hi]`` (x, y mm)
    widened by 1.5 pixels (the anti-aliased edge); None when empty."""
    size = len(grid)
    start = size / 2 - 0.5

    def span(a: float, b: float) -> slice:
        return slice(max(0, math.floor((a - 1.5 * px) / px + start)), min(size, math.ceil((b + 1.5 * px) / px + start) + 1))

    cols, rows = span(lo[0], hi[0]), span(lo[1], hi[1])
    return (rows, cols) if rows.stop > rows.start and cols.stop > cols.start else None


def _put(image, label, box, cover, value, tissue) -> None:
    region = image[box]
    region += cover * (np.float32(value) - region)
    if label is not None:
        lab = label[box]
        lab[cover >= 1.0] = tissue
        lab[(cover > 0.0) & (cover < 1.0)] = MIXED


def _polar(centre: np.ndarray, steps: int, grid: np.ndarray, box: tuple[slice, slice]):
    """Radius, table index and fraction of every pixel of ``box`` about ``centre``."""
    dx = grid[box[1]][None, :] - np.float32(centre[0])
    dy = grid[box[0]][:, None] - np.float32(centre[1])
    r = np.sqrt(dx * dx + dy * dy)
    t = np.arctan2(dy, dx)
    t += np.float32(math.pi)
    t *= np.float32(steps / (2 * math.pi))
    i0 = np.minimum(t.astype(np.int32), steps - 1)
    t -= i0
    return r, i0, t


def _layer_distance(r, i0, frac, radius: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Signed distance (mm, negative inside) to the boundary given by one radius table
    (radius linearly interpolated, its slope from the nearest sample below)."""
    base = radius[:-1].astype(np.float32)
    step = (radius[1:] - radius[:-1]).astype(np.float32)
    b = step[i0]
    b *= frac
    b += base[i0]
    g = np.maximum(b, np.float32(2e-3))
    g *= np.float32(0.5)
    np.maximum(g, r, out=g)
    np.divide(slope[:-1].astype(np.float32)[i0], g, out=g)
    g *= g
    g += np.float32(1.0)
    np.sqrt(g, out=g)
    np.subtract(r, b, out=b)
    b /= g
    return b


def _cover(distance: np.ndarray, px: float) -> np.ndarray:
    distance *= np.float32(-1.0 / px)
    distance += np.float32(0.5)
    return np.clip(distance, 0.0, 1.0, out=distance)


def _inner_box(box: tuple[slice, slice], inner: tuple[slice, slice]) -> tuple[slice, slice]:
    """``inner`` (a box of the image) relative to ``box``, clipped to it."""
    rows = slice(max(inner[0].start, box[0].start) - box[0].start, min(inner[0].stop, box[0].stop) - box[0].start)
    cols = slice(max(inner[1].start, box[1].start) - box[1].start, min(inner[1].stop, box[1].stop) - box[1].start)
    return rows, cols


def _paint_layers(item: Layers, grid, px, image, label, body) -> None:
    reach = item.reach()
    box = _box(grid, px, item.centre - reach, item.centre + reach)
    if box is None:
        return
    r, i0, frac = _polar(item.centre, item.radius.shape[1] - 1, grid, box)
    for k in range(len(item.values)):
        layer_reach = float(np.max(item.radius[k]))
        if layer_reach <= 0.0:
            continue
        inner = _box(grid, px, item.centre - layer_reach, item.centre + layer_reach)
        if inner is None:
            continue
        sub = _inner_box(box, inner)
        cover = _cover(_layer_distance(r[sub], i0[sub], frac[sub], item.radius[k], item.slope[k]), px)
        where = (slice(box[0].start + sub[0].start, box[0].start + sub[0].stop),
                 slice(box[1].start + sub[1].start, box[1].start + sub[1].stop))
        _put(image, label, where, cover, item.values[k], item.labels[k])
        if body is not None and k == 0:
            body[where] = cover


def _paint_capsule(item: Capsule, grid, px, image, label, body) -> None:
    reach = max(item.r0, item.r1)
    box = _box(grid, px, np.minimum(item.p0, item.p1) - reach, np.maximum(item.p0, item.p1) + reach)
    if box is None:
        return
    ax, ay = (item.p1 - item.p0).astype(np.float32)
    dx = grid[box[1]][None, :] - np.float32(item.p0[0])
    dy = grid[box[0]][:, None] - np.float32(item.p0[1])
    t = np.clip((dx * ax + dy * ay) * np.float32(1.0 / max(float(ax * ax + ay * ay), 1e-9)), 0.0, 1.0)
    ex, ey = dx - t * ax, dy - t * ay
    distance = np.sqrt(ex * ex + ey * ey) - (np.float32(item.r0) + t * np.float32(item.r1 - item.r0))
    _put(image, label, box, _cover(distance, px), item.value, item.label)


def _paint_honeycomb(item: Honeycomb, grid, px, image, label, body) -> None:
    region = item.region
    reach = region.reach()
    box = _box(grid, px, region.centre - reach, region.centre + reach)
    if box is None or len(item.seeds) < 2:
        return
    r, i0, frac = _polar(region.centre, region.radius.shape[1] - 1, grid, box)
    inside = _layer_distance(r, i0, frac, region.radius[0], region.slope[0]) + np.float32(item.wall / 2)
    x, y = grid[box[1]][None, :, None], grid[box[0]][:, None, None]
    seeds = item.seeds.astype(np.float32)
    d = np.sqrt((x - seeds[:, 0]) ** 2 + (y - seeds[:, 1]) ** 2)
    nearest = np.partition(d, 1, axis=-1)
    edge = (nearest[..., 1] - nearest[..., 0]) * np.float32(0.5) - np.float32(item.wall / 2)
    cover = np.minimum(_cover(inside, px), _cover(-edge, px))
    _put(image, label, box, cover, item.value, item.label)


def _texture(waves: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Sum of plane waves ``a cos(2 pi (kx x + ky y) + p)``, as one matrix product:
    ``cos(ay + ax) = cos ay cos ax - sin ay sin ax``."""
    ax = 2 * math.pi * waves[:, 0][None, :] * grid[:, None] + waves[:, 2][None, :]
    ay = 2 * math.pi * waves[:, 1][None, :] * grid[:, None]
    rows = np.concatenate([np.cos(ay), np.sin(ay)], 1).astype(np.float32)
    cols = np.concatenate([waves[:, 3] * np.cos(ax), -waves[:, 3] * np.sin(ax)], 1).astype(np.float32)
    return rows @ cols.T
