"""Axial head slices in mm, from the skull base to the vertex.

A head phantom is cut at a random level ``z`` from -35 mm (maxillary sinuses, posterior
fossa) through 0 (the orbits' centre) and 20-60 mm (basal ganglia, ventricles) to 100 mm
(near the vertex). Its outline is 140-160 mm wide and 175-200 mm front to back at the
widest level, narrowing towards the vertex (an ellipsoidal cap) and, below, with the nose
and face in front. Layers from the skin in:

* scalp: skin 1.5-2.5 mm, subcutaneous fat 1.5-4 mm, galea, and the temporal muscles at
  the sides between -20 and 55 mm;
* skull: outer table 1.2-2.2 mm and inner table 1.0-2.0 mm of cortical bone around the
  diploe (1.5-4.5 mm frontally and occipitally, a third of that at the temples; the
  frontal sinus lies in it from 12 to 38 mm); all thicker near the vertex, where the
  slice cuts the vault obliquely;
* CSF of the subarachnoid space (0.5-3 mm, more with atrophy), then the cortex: a grey
  matter ribbon 2.5-3.5 mm thick over white matter, folded by 20-40 sulci (CSF slots
  4-14 mm deep, lined by grey matter; white-matter fingers fill the gyri) and the Sylvian
  fissures at the sides.

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
    outer = head + _bump(theta, -math.pi / 2, face, 1.1) + _bump(theta, -math.pi / 2, nose, 0.22 + 0.15 * (z < -15))
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
    """Grey matter :data:`GREY_WHITE_MARGIN` above this head's white matter."""
    white = pen.hu("white_matter")
    lo, hi = max(TISSUES["grey_matter"][0], white + GREY_WHITE_MARGIN[0]), \
        min(TISSUES["grey_matter"][1], white + GREY_WHITE_MARGIN[1])
    pen.set_hu("grey_matter", pen.u(lo, hi))


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
    t_out, t_in = u(1.2, 2.2) * oblique, u(1.0, 2.0) * oblique
    sinus = pen.u(8, 15) * frame.section(25, 13) if pen.chance(0.85) else 0.0
    diploe = u(1.5, 4.5) * (0.35 + 0.65 * np.sin(theta) ** 2) * oblique + _bump(theta, -math.pi / 2, sinus, 0.3)
    cavity = _cut(pen.inset(head, scalp + t_out + diploe + t_in), theta, z, frame.scale[1] * 93.0)
    base = float(np.interp(z, [-35, -15, 0, 15, 25], [0, 3, 8, 8, 0])) * np.maximum(-np.sin(theta), 0) ** 2
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


def _cut(cavity: np.ndarray, theta: np.ndarray, z: float, hl: float) -> np.ndarray:
    """The cranial cavity at level ``z``: the skull's inside, receding from the front below
    25 mm (anterior fossa; middle fossae reaching forward at the sides; the posterior fossa
    alone, behind the clivus, below -15 mm) and narrower at the posterior fossa (smooth
    corners)."""
    front = float(np.interp(z, [-35, -15, 0, 15, 25], [-0.05, 0.15, 0.3, 0.55, 1.3])) * hl
    bulge = float(np.interp(z, [-35, -15, -5, 0, 15], [0.4, 0.5, 1.2, 2.0, 1.5]))
    side = float(np.interp(z, [-35, -15, 0], [0.62, 0.8, 1.3])) * hl
    s, c = np.sin(theta), np.cos(theta)
    forward = np.maximum(-s, 1e-6)
    limits = [np.where(s < -1e-6, (front + 5.0) / forward ** bulge - 5.0, 1e4), side / np.maximum(np.abs(c), 1e-6)]
    out = cavity
    for limit in limits:
        k = 4.0
        low = np.minimum(out, limit)
        out = low - k * np.log1p(np.exp(-np.abs(out - limit) / k))
    return np.maximum(out, 0.0)


def _sulci(pen: Pen, frame: Frame, theta: np.ndarray, pia: np.ndarray, atrophy: float, cortex: float,
           gap: float) -> None:
    """Sulci every 10-16 mm of the brain's surface, 4-14 mm deep, bent, lined by grey
    matter; and the Sylvian fissures at the sides between 5 and 45 mm."""
    u, rng, z = pen.u, pen.rng, frame.z
    perimeter = float(np.sum(pia[:-1]) * 2 * math.pi / (len(pia) - 1))
    count = max(4, int(perimeter / u(10, 16)))
    at = (np.arange(count) + rng.uniform(-0.3, 0.3, count)) * (2 * math.pi / count) + u(0, 2 * math.pi)
    sulci = [(a, u(4, 14) * (1 + 0.3 * atrophy), u(0.5, 1.2) + 2.0 * atrophy, 0.35) for a in at]
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
        heading, point = angle + math.pi + rng.normal(0, bend), np.asarray(frame.polar(angle, surface))
        points = [point]
        steps = int(rng.integers(2, 4))
        for _ in range(steps):
            point = point + depth / steps * np.array([math.cos(heading + frame.rot), math.sin(heading + frame.rot)])
            points.append(point)
            heading += rng.normal(0, bend)
        paths.append((points, width))
    lining = cortex
    for points, width in paths:
        start = points[0] + (points[1] - points[0]) * (lining / np.linalg.norm(points[1] - points[0]))
        for p0, p1 in zip([start, *points[1:-1]], points[1:]):
            pen.capsule(p0, p1, width / 2 + lining, "grey_matter")
    for points, width in paths:
        outward = points[0] - (points[1] - points[0]) * (gap / 2 / np.linalg.norm(points[1] - points[0]))
        for p0, p1 in zip([outward, *points[1:-1]], points[1:]):
            pen.capsule(p0, p1, width / 2, "csf")
