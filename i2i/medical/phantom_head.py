"""Axial head slices in mm, from the skull base to the vertex.

A head phantom is cut at a random level ``z`` from -35 mm (maxillary sinuses, posterior
fossa) through 0 (the orbits' centre) and 20-60 mm (basal ganglia, ventricles) to 100 mm
(near the vertex). Its outline is 140-160 mm wide and 175-200 mm front to back at the
widest level, narrowing towards the vertex (an ellipsoidal cap) and, below, with the nose
and face in front. Layers from the skin in:

* scalp: skin 1.5-2.5 mm, subcutaneous fat 1.5-4 mm, galea, and the temporal muscles at
  the sides between -20 and 55 mm;
* skull: outer table 1.5-2.5 mm and inner table 1.2-2.2 mm of cortical bone around the
  diploe (2-6 mm frontally and occipitally, 40 % of that at the temples; the frontal
  sinus lies in it from 12 to 38 mm): a vault of 5-11 mm, as measured on the shared real
  head CT; all thicker near the vertex, where the slice cuts the vault obliquely;
* CSF of the subarachnoid space (0.5-3 mm, more with atrophy), then the cortex: a grey
  matter ribbon 2.5-3.5 mm thick over white matter, folded by sulci every 8-13 mm of the
  surface (bent CSF slots 3-16 mm deep lined by grey matter, so white-matter fingers fill
  the gyri) and the Sylvian fissures at the sides.

Below 25 mm the cranial cavity recedes from the front (anterior, then middle and
posterior fossae) and the skull base fills the space: see
:mod:`i2i.medical.phantom_skull_base`. Deep structures (ventricles, deep grey nuclei,
brainstem, fissures, falx, calcifications): :mod:`i2i.medical.phantom_brain`. Values:
:mod:`i2i.medical.phantom_tissues`.
"""

from __future__ import annotations

import math

import numpy as np

from i2i.medical.phantom_brain import draw_brain
from i2i.medical.phantom_pen import FINE, Frame, Pen, angles
from i2i.medical.phantom_skull_base import draw_skull_base
from i2i.medical.phantom_tissues import GREY_WHITE_MARGIN, TISSUES

#: Slice levels drawn (mm above the orbits' centre).
LEVELS = (-35.0, 100.0)
#: The level of the head's largest cross-section, and its ellipsoidal cap's height (mm).
WIDEST, CAP = 35.0, 78.0


def draw_head(pen: Pen) -> None:
    """Paint one axial head slice with ``pen``."""
    u = pen.u
    z = pen.scene.level = u(*LEVELS)
    hl = u(87.5, 100.0)
    hw = float(np.clip(hl * u(0.74, 0.86), 70.0, 80.0))
    size, oblique = profile(z, hl)
    nose, face = _face(z)
    rot = u(-0.12, 0.12)
    centre = (pen.rng.normal(0, 3), pen.rng.normal(0, 3) + (nose + face) / 3)
    frame = Frame(pen, centre, rot, z, (hw / 75.0, hl / 93.0))
    atrophy = u(0, 1) ** 2
    _values(pen)
    theta = angles(FINE) - rot  # the head frame's angle at each table sample
    head = pen.outline(hw * size, hl * size, rot, 0.012, FINE)
    skin, fat, galea = u(1.5, 2.5) * oblique, u(1.5, 4.0) * oblique, u(0.5, 1.2) * oblique
    scalp = skin + fat + galea + _temporal_muscle(pen, theta, z)
    outer = head + _bump(theta, -math.pi / 2, face, 1.5) + _bump(theta, -math.pi / 2, nose, 0.22 + 0.15 * (z < -15))
    pen.layers(centre, [(outer, "skin"), (pen.inset(outer, skin), "fat"), (pen.inset(outer, skin + fat), "muscle")])
    sinus, pia, outer_table = _cranium(pen, frame, theta, head, scalp, oblique, atrophy)

    def radius(table: np.ndarray, angle: float) -> float:
        return float(np.interp(angle, theta, table, period=2 * math.pi))

    draw_brain(pen, frame, atrophy, lambda angle: radius(pia, angle))
    draw_skull_base(pen, frame, sinus, radius(outer_table, -math.pi / 2), lambda angle: radius(outer, angle))
    pen.waves(6, u(0.8, 2.0), (20, 150))


def profile(z: float, hl: float) -> tuple[float, float]:
    """The head's cross-section at level ``z`` relative to its largest (an ellipsoidal cap
    above :data:`WIDEST`, slowly narrowing below), and how much thicker than they are the
    scalp and skull look there (the obliquity of the cut)."""
    if z <= WIDEST:
        return 1.0 - 0.12 * ((WIDEST - z) / 70.0) ** 2, 1.0
    t = min((z - WIDEST) / CAP, 0.95)
    size = math.sqrt(1 - t * t)
    slope = hl * t / (CAP * size)
    return size, min(math.sqrt(1 + slope * slope), 2.5)


def _values(pen: Pen) -> None:
    """Grey matter :data:`GREY_WHITE_MARGIN` above this head's white matter, deep grey
    nuclei 2-5 HU below the cortex, diploe at least 350 HU below the skull's tables."""
    white = pen.hu("white_matter")
    lo, hi = max(TISSUES["grey_matter"][0], white + GREY_WHITE_MARGIN[0]), \
        min(TISSUES["grey_matter"][1], white + GREY_WHITE_MARGIN[1])
    grey = pen.u(lo, hi)
    pen.set_hu("grey_matter", grey)
    pen.set_hu("deep_grey_matter", grey - pen.u(2, 5))
    pen.set_hu("diploe", min(pen.hu("diploe"), pen.hu("cortical_bone") - 350))


def _face(z: float) -> tuple[float, float]:
    """How far (mm) the nose, and the face beside it (orbital rims, cheeks), reach in
    front of the skull's outline at level ``z``."""
    return (float(np.interp(z, [-35, -15, 0, 12, 20], [20, 22, 12, 3, 0])),
            float(np.interp(z, [-35, -15, 0, 12, 25], [12, 13, 11, 5, 0])))


def _bump(theta: np.ndarray, at: float, height: float, width: float) -> np.ndarray:
    """A smooth radial bump ``height`` mm high centred on angle ``at``, ``width`` radians wide."""
    d = np.remainder(theta - at + math.pi, 2 * math.pi) - math.pi
    return height * np.cos(np.clip(d / width, -1, 1) * math.pi / 2) ** 2


def _temporal_muscle(pen: Pen, theta: np.ndarray, z: float) -> np.ndarray:
    """Thickness (mm) of the temporal muscles at the sides (levels -20 .. 55 mm)."""
    thick = pen.u(3, 9) * math.sqrt(max(0.0, 1 - ((z - 15) / 40) ** 2))
    return _bump(theta, -0.25, thick, 0.7) + _bump(theta, math.pi + 0.25, thick, 0.7)


def _cranium(pen: Pen, frame: Frame, theta: np.ndarray, head: np.ndarray, scalp: np.ndarray, oblique: float,
             atrophy: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Skull tables and diploe, the subarachnoid CSF, and the folded cortex over white
    matter; returns the depth (mm) of the frontal sinus' room in the diploe (0: none), and
    the radius tables of the brain's surface and of the skull's outside."""
    u, z = pen.u, frame.z
    t_out, t_in = u(1.5, 2.5) * oblique, u(1.2, 2.2) * oblique
    sinus = pen.u(8, 15) * frame.section(25, 13) if pen.chance(0.85) else 0.0
    diploe = u(2.0, 6.0) * (0.4 + 0.6 * np.sin(theta) ** 2) * oblique + _bump(theta, -math.pi / 2, sinus, 0.3)
    cavity = _cut(pen.inset(head, scalp + t_out + diploe + t_in), theta, z, frame.scale)
    base = float(np.interp(z, [-35, -15, -5, 0, 15, 25], [0, 3, 10, 14, 10, 0])) * np.maximum(-np.sin(theta), 0) ** 2
    outer = np.minimum(pen.inset(head, scalp), pen.inset(cavity, -(t_in + diploe + t_out + base)))
    inner = np.minimum(pen.inset(outer, t_out + diploe), pen.inset(cavity, -t_in))
    csf = (u(0.5, 1.2) + 2.0 * atrophy) * min(oblique, 1.5)
    cortex = u(2.5, 3.5) * min(oblique, 1.5)
    pia = pen.inset(cavity, csf)
    crowns = sum(pen.u(0, 0.4) * np.cos(k * theta + pen.u(0, 2 * math.pi)) for k in (9, 14, 23))
    pen.layers(frame.centre, [(outer, "cortical_bone"), (pen.inset(outer, t_out), "diploe"), (inner, "cortical_bone"),
                              (cavity, "csf"), (pia, "grey_matter"), (pen.inset(pia, cortex + crowns), "white_matter")])
    _sulci(pen, frame, theta, pia, atrophy, cortex, csf)
    return sinus, pia, outer


def _cut(cavity: np.ndarray, theta: np.ndarray, z: float, scale: tuple[float, float]) -> np.ndarray:
    """The cranial cavity at level ``z`` (radius over frame angles ``theta``): the skull's
    inside ``cavity``, limited below 25 mm to the anterior and middle fossae (receding
    from the front; a front wall curving forward at the sides, the temporal poles) and the posterior fossa (an ellipsoid
    behind the clivus and petrous ridges, alone below -20 mm); smooth corners."""
    s, c = np.sin(theta), np.cos(theta)
    upper = np.zeros_like(cavity)
    if z > -20:
        hl = 93.0 * scale[1]
        front = float(np.interp(z, [-20, -5, 5, 15, 25], [0.05, 0.25, 0.35, 0.55, 1.3])) * hl
        sides = float(np.interp(z, [-20, -5, 5, 15, 25], [0, 20, 25, 15, 0])) * scale[1] / 40 ** 2
        # the front wall v = -(front + sides u^2) (a parabola): the ray's nearest crossing
        q = sides * c * c
        disc = s * s - 4 * q * front
        root = np.where(q > 1e-9, (-s - np.sqrt(np.maximum(disc, 0))) / (2 * np.maximum(q, 1e-9)),
                        front / np.maximum(-s, 1e-9))
        upper = np.where((s < -1e-6) & (disc >= 0), root, 1e4)
    f = math.sqrt(max(0.0, 1 - ((z + 10) / 32) ** 2))
    fossa = np.zeros_like(cavity)
    if f > 0:  # the ray from the centre to the ellipse (semi-axes a, b) centred ``back`` mm behind it
        a, b, back = 58 * scale[0] * f, 52 * scale[1] * f, 22 * scale[1]
        qa, qb, qc = (c / a) ** 2 + (s / b) ** 2, -2 * s * back / b ** 2, (back / b) ** 2 - 1
        fossa = np.maximum((-qb + np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0))) / (2 * qa), 0)
    k = 4.0
    region = np.maximum(upper, fossa) + k * np.log1p(np.exp(-np.abs(upper - fossa) / k))
    out = np.minimum(cavity, region) - k * np.log1p(np.exp(-np.abs(cavity - region) / k))
    return np.maximum(out, 0.0)


def _sulci(pen: Pen, frame: Frame, theta: np.ndarray, pia: np.ndarray, atrophy: float, cortex: float,
           gap: float) -> None:
    """Sulci every 10-16 mm of the brain's surface, 4-14 mm deep, bent, lined by grey
    matter; and the Sylvian fissures at the sides between 5 and 45 mm."""
    u, rng, z = pen.u, pen.rng, frame.z
    perimeter = float(np.sum(pia[:-1]) * 2 * math.pi / (len(pia) - 1))
    count = max(4, int(perimeter / u(8, 13)))
    at = (np.arange(count) + rng.uniform(-0.3, 0.3, count)) * (2 * math.pi / count) + u(0, 2 * math.pi)
    sulci = [(a, u(3, 16) * (1 + 0.3 * atrophy), u(0.5, 1.2) + 2.0 * atrophy, 0.45) for a in at]
    sylvian = math.sqrt(max(0.0, 1 - ((z - 25) / 20) ** 2))
    if sylvian > 0:
        width = u(1.5, 3.0) + 3 * atrophy
        sulci += [(a + rng.normal(0, 0.05), u(18, 30) * sylvian, width, 0.15) for a in (-0.3, math.pi + 0.3)]
    paths = []
    for angle, depth, width, bend in sulci:
        surface = float(np.interp(angle, theta, pia, period=2 * math.pi))
        depth = min(depth, 0.45 * surface)
        if depth < 1.0:
            continue
        heading, point = angle + math.pi + rng.normal(0, 0.12), np.asarray(frame.polar(angle, surface))
        points = [point]
        steps = int(rng.integers(2, 5))
        for _ in range(steps):
            point = point + depth / steps * np.array([math.cos(heading + frame.rot), math.sin(heading + frame.rot)])
            points.append(point)
            heading += rng.normal(0, bend)  # the first segment leaves the surface about normally
        paths.append((points, width))
    lining = cortex
    for points, width in paths:  # the lining's end cap reaches the brain's surface, not beyond
        start = points[0] + (points[1] - points[0]) * ((lining + width / 2 + 0.5) / np.linalg.norm(points[1] - points[0]))
        for p0, p1 in zip([start, *points[1:-1]], points[1:]):
            pen.capsule(p0, p1, width / 2 + lining, "grey_matter")
    for points, width in paths:  # from the subarachnoid space in, the end cap not into the skull
        outward = points[0] - (points[1] - points[0]) * ((gap - width / 2) / np.linalg.norm(points[1] - points[0]))
        for p0, p1 in zip([outward, *points[1:-1]], points[1:]):
            pen.capsule(p0, p1, width / 2, "csf")
