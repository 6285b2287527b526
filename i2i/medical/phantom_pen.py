"""Drawing phantom scenes in millimetres: the :class:`Pen` that the region modules use.

A :class:`Pen` wraps one phantom's random generator and its :class:`Scene`: it draws
tissue values from :data:`~i2i.medical.phantom_tissues.TISSUES` (one per tissue per
phantom), builds boundary tables for ellipses with low-harmonic wobble, and adds
:class:`Layers`, :class:`Capsule` and :class:`Honeycomb` primitives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from i2i.medical.phantom_raster import Capsule, Honeycomb, Layers, Scene
from i2i.medical.phantom_tissues import LABELS, TISSUES

#: Angle samples of a boundary table: fine for the brain (gyri), coarse for small blobs.
FINE, COARSE = 1024, 128


def angles(steps: int) -> np.ndarray:
    """The ``steps + 1`` angles ``-pi .. pi`` at which boundary tables are sampled."""
    return np.linspace(-math.pi, math.pi, steps + 1)


def slope_of(radius: np.ndarray) -> np.ndarray:
    """``dR/dphi`` of a periodic boundary table (central differences)."""
    core = radius[:-1]
    step = 2 * math.pi / len(core)
    d = (np.roll(core, -1) - np.roll(core, 1)) / (2 * step)
    return np.append(d, d[0])


class Pen:
    """Draws one phantom: random values from ``rng``, primitives into ``scene``."""

    def __init__(self, rng: np.random.Generator, scene: Scene):
        self.rng, self.scene = rng, scene
        self._values: dict[str, float] = {}

    def u(self, lo: float, hi: float) -> float:
        """A uniform draw in ``[lo, hi)``."""
        return float(self.rng.uniform(lo, hi))

    def chance(self, p: float) -> bool:
        """True with probability ``p`` (always draws, so later draws do not shift)."""
        return bool(self.rng.random() < p)

    def hu(self, tissue: str, jitter: float = 0.0) -> float:
        """This phantom's value of ``tissue`` (drawn once from its range), +- ``jitter`` HU
        (kept in the range)."""
        if tissue not in self._values:
            self._values[tissue] = self.u(*TISSUES[tissue]) if TISSUES[tissue][1] > TISSUES[tissue][0] \
                else TISSUES[tissue][0]
        lo, hi = TISSUES[tissue]
        return float(np.clip(self._values[tissue] + self.u(-jitter, jitter), lo, hi)) if jitter else self._values[tissue]

    def set_hu(self, tissue: str, value: float) -> None:
        """Fix this phantom's value of ``tissue`` (e.g. grey matter relative to white)."""
        self._values[tissue] = float(value)

    def outline(self, a: float, b: float, rot: float = 0.0, wobble: float = 0.0,
                steps: int = COARSE) -> np.ndarray:
        """Boundary radius table (mm) of an ellipse with semi-axes ``a`` (x) and ``b`` (y),
        rotated by ``rot`` (radians), radius modulated by 2nd-4th harmonics of relative
        amplitude up to ``wobble``."""
        phi = angles(steps) - rot
        radius = a * b / np.sqrt((b * np.cos(phi)) ** 2 + (a * np.sin(phi)) ** 2)
        if wobble > 0:
            amp, phase = self.rng.uniform(0, wobble, 3), self.rng.uniform(0, 2 * math.pi, 3)
            radius = radius * (1 + sum(amp[k] * np.cos((k + 2) * phi + phase[k]) for k in range(3)))
        return radius

    def inset(self, radius: np.ndarray, depth: float | np.ndarray) -> np.ndarray:
        """The boundary ``depth`` mm inside ``radius`` (measured along the normal)."""
        tilt = slope_of(radius) / np.maximum(radius, 1e-6)
        return np.maximum(radius - depth * np.sqrt(1 + tilt * tilt), 0.0)

    def layers(self, centre: Sequence[float], tables: Sequence[tuple[np.ndarray, str | tuple[str, float]]]) -> None:
        """Nested layers about ``centre``: ``(radius table, tissue)`` outer first; a tissue
        may be ``(name, value)`` to paint a value other than the phantom's own."""
        values, labels = [], []
        for _, tissue in tables:
            name, value = tissue if isinstance(tissue, tuple) else (tissue, self.hu(tissue))
            values.append(value)
            labels.append(LABELS[name])
        radius = np.stack([t for t, _ in tables])
        self.scene.items.append(Layers(np.asarray(centre, dtype=float), radius, np.stack([slope_of(t) for t in radius]),
                                       np.asarray(values), np.asarray(labels)))

    def ellipse(self, centre: Sequence[float], a: float, b: float, tissue: str | tuple[str, float], rot: float = 0.0,
                wobble: float = 0.0, steps: int = COARSE) -> None:
        """One filled (wobbly) ellipse."""
        self.layers(centre, [(self.outline(a, b, rot, wobble, steps), tissue)])

    def capsule(self, p0: Sequence[float], p1: Sequence[float], r0: float, tissue: str | tuple[str, float],
                r1: float | None = None) -> None:
        """A segment ``p0 -> p1`` with radius ``r0`` (tapering to ``r1``)."""
        name, value = tissue if isinstance(tissue, tuple) else (tissue, self.hu(tissue))
        self.scene.items.append(Capsule(np.asarray(p0, dtype=float), np.asarray(p1, dtype=float), float(r0),
                                        float(r0 if r1 is None else r1), float(value), LABELS[name]))

    def honeycomb(self, centre: Sequence[float], a: float, b: float, rot: float, cell: float, wall: float,
                  tissue: str = "air") -> None:
        """Air cells about ``cell`` mm across with ``wall`` mm walls filling an ellipse
        (seeds on a jittered grid, so cells are of similar size)."""
        centre = np.asarray(centre, dtype=float)
        n = max(2, int(2 * max(a, b) / cell) + 1)
        g = (np.arange(n) - (n - 1) / 2) * cell
        seeds = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2) + self.rng.uniform(-0.35, 0.35, (n * n, 2)) * cell
        cos, sin = math.cos(rot), math.sin(rot)
        ux, vy = (cos * seeds[:, 0] + sin * seeds[:, 1]) / a, (cos * seeds[:, 1] - sin * seeds[:, 0]) / b
        seeds = seeds[ux * ux + vy * vy < 1.3] + centre
        outline = self.outline(a, b, rot)
        region = Layers(centre, outline[None], slope_of(outline)[None], np.zeros(1), np.zeros(1, dtype=int))
        self.scene.items.append(Honeycomb(region, seeds, float(wall), self.hu(tissue), LABELS[tissue]))

    def waves(self, count: int, amplitude: float, wavelength: tuple[float, float]) -> None:
        """A smooth texture: ``count`` plane waves of wavelengths in ``wavelength`` mm,
        total RMS amplitude about ``amplitude`` HU."""
        k = 1.0 / self.rng.uniform(*wavelength, count)
        direction = self.rng.uniform(0, 2 * math.pi, count)
        phase = self.rng.uniform(0, 2 * math.pi, count)
        amp = np.full(count, amplitude * math.sqrt(2.0 / count))
        self.scene.waves = np.stack([k * np.cos(direction), k * np.sin(direction), phase, amp], 1)


class Frame:
    """A local anatomical frame: ``u`` to the image's right, ``v`` down (posterior), in mm
    of an average adult scaled by ``scale`` (u, v), rotated by ``rot`` about ``centre``; the
    slice is at level ``z`` mm, so 3-D ellipsoids are drawn as their cross-sections."""

    def __init__(self, pen: Pen, centre: Sequence[float], rot: float, z: float, scale: tuple[float, float]):
        self.pen, self.centre, self.rot, self.z, self.scale = pen, np.asarray(centre, dtype=float), rot, z, scale

    def at(self, u: float, v: float) -> tuple[float, float]:
        """The image position (mm) of frame point ``(u, v)``."""
        x, y = u * self.scale[0], v * self.scale[1]
        c, s = math.cos(self.rot), math.sin(self.rot)
        return float(self.centre[0] + c * x - s * y), float(self.centre[1] + s * x + c * y)

    def section(self, zc: float, hz: float) -> float:
        """The cross-section factor of an ellipsoid centred at level ``zc`` with vertical
        semi-axis ``hz`` (0 when the slice misses it)."""
        t = (self.z - zc) / hz
        return math.sqrt(1 - t * t) if abs(t) < 1 else 0.0

    def ellipsoid(self, centre: Sequence[float], semi: Sequence[float], tissue: str | tuple[str, float],
                  rot: float = 0.0, wobble: float = 0.0, min_mm: float = 0.3) -> bool:
        """Paint the slice through the ellipsoid at frame ``(u, v, z)`` with semi-axes
        ``(a, b, hz)`` rotated by ``rot`` in the frame; False when the slice misses it."""
        f = self.section(centre[2], semi[2])
        a, b = semi[0] * self.scale[0] * f, semi[1] * self.scale[1] * f
        if min(a, b) < min_mm:
            return False
        self.pen.ellipse(self.at(centre[0], centre[1]), a, b, tissue, self.rot + rot, wobble)
        return True

    def shell(self, centre: Sequence[float], semi: Sequence[float], layers: Sequence[tuple[float, str]],
              rot: float = 0.0, wobble: float = 0.0) -> bool:
        """Like :meth:`ellipsoid`, with nested layers ``(depth mm under the surface, tissue)``
        (e.g. a sinus: bone wall, mucosa, air); False when the slice misses it."""
        f = self.section(centre[2], semi[2])
        a, b = semi[0] * self.scale[0] * f, semi[1] * self.scale[1] * f
        if min(a, b) < 0.3:
            return False
        outline = self.pen.outline(a, b, self.rot + rot, wobble)
        self.pen.layers(self.at(centre[0], centre[1]), [(self.pen.inset(outline, d), t) for d, t in layers])
        return True

    def capsule(self, p0: Sequence[float], p1: Sequence[float], r0: float, tissue: str | tuple[str, float],
                r1: float | None = None) -> None:
        """A capsule between frame points ``p0`` and ``p1``."""
        self.pen.capsule(self.at(*p0), self.at(*p1), r0, tissue, r1)

    def polar(self, theta: float, r: float) -> tuple[float, float]:
        """The image position (mm) ``r`` mm from the centre along frame angle ``theta`` (unscaled)."""
        return (float(self.centre[0] + r * math.cos(theta + self.rot)),
                float(self.centre[1] + r * math.sin(theta + self.rot)))

    def honeycomb(self, centre: Sequence[float], semi: Sequence[float], cell: float, wall: float,
                  rot: float = 0.0) -> bool:
        """Air cells (:meth:`Pen.honeycomb`) in the slice through an ellipsoid."""
        f = self.section(centre[2], semi[2])
        a, b = semi[0] * self.scale[0] * f, semi[1] * self.scale[1] * f
        if min(a, b) < cell / 2:
            return False
        self.pen.honeycomb(self.at(centre[0], centre[1]), a, b, self.rot + rot, cell, wall)
        return True
