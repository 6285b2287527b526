"""Deep structures of the head phantoms' brain, as slices through 3-D ellipsoids.

In the head frame of an average adult (mm; ``u`` to the image's right, ``v`` posterior,
``z`` above the orbits' centre; scaled to each head), levels as on axial CT:

* -25..15 mm: pons in its cistern, fourth ventricle; 14..26 mm: the suprasellar cistern;
  15..35 mm: midbrain in the ambient cistern;
* 28..50 mm: deep grey nuclei (caudate heads, lentiform nuclei, thalami), third
  ventricle, frontal horns and atria of the lateral ventricles, pineal and choroid-plexus
  calcifications (in some heads); 50..72 mm: ventricle bodies beside the caudate bodies;
  temporal horns at 2..18 mm;
* the interhemispheric fissure (CSF lined by grey matter, the falx in it) in front above
  15 mm and behind above 30 mm, meeting above the corpus callosum (65 mm); the superior
  sagittal sinus against the inner table above 20 mm.

Ventricles and sulci widen with ``atrophy`` (0: young adult, 1: elderly).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from i2i.medical.phantom_pen import Frame, Pen


def draw_brain(pen: Pen, frame: Frame, atrophy: float, surface: Callable[[float], float]) -> None:
    """Paint the deep brain structures; ``surface(theta)``: the brain's radius (mm) at
    frame angle ``theta`` (for the midline fissure and sinus)."""
    _midline(pen, frame, atrophy, surface)
    _brainstem(pen, frame)
    _nuclei_and_ventricles(pen, frame, atrophy)


def _midline(pen: Pen, frame: Frame, atrophy: float, surface: Callable[[float], float]) -> None:
    u, z = pen.u, frame.z
    csf = u(0.4, 0.9) + 1.5 * atrophy
    cortex = u(2.5, 3.5)
    front, back = surface(-math.pi / 2), surface(math.pi / 2)
    through = z > 65 + u(-3, 3)
    rays = []  # (outer angle, inner angle, inner radius, inner end on the surface too)
    if through:
        rays.append((-math.pi / 2, math.pi / 2, back, True))
    else:
        if z > 15:
            rays.append((-math.pi / 2, -math.pi / 2, front * (1 - (u(0.45, 0.6) if z > 30 else u(0.3, 0.5))), False))
        if z > 30:
            rays.append((math.pi / 2, math.pi / 2, back * u(0.5, 0.65), False))
    lining = csf / 2 + cortex
    for outer, inner, r_in, surface_in in rays:
        def ends(delta: float) -> tuple:  # the fissure's ends, ``delta`` mm beyond the brain's surface
            return frame.polar(outer, surface(outer) + delta), frame.polar(inner, r_in + (delta if surface_in else 0))

        falx = u(0.35, 0.6)
        pen.capsule(*ends(-lining), lining, "grey_matter")
        pen.capsule(*ends(0.5 - csf / 2), csf / 2, "csf")  # the subarachnoid space is >= 0.5 mm deep
        pen.capsule(*ends(0.5 - falx), falx, ("dura", pen.hu("dura", 5)))
    if z > 20:
        size = math.sqrt(min(1.0, (z - 20) / 30))
        for theta, r in ((math.pi / 2, u(3, 5) * size), (-math.pi / 2, u(2, 3.5) * size)):
            if r > 0.5:
                reach = surface(theta)
                pen.ellipse(frame.polar(theta, reach - r * 0.6), r, r * 0.8, "blood", frame.rot, 0.1)


def _brainstem(pen: Pen, frame: Frame) -> None:
    u = pen.u
    frame.ellipsoid((0, 10, -5), (19, 17, 20), "csf", 0.0, 0.05)                   # prepontine cistern
    frame.ellipsoid((0, 12, -5), (15, 13, 20), "white_matter", 0.0, 0.05)          # pons
    frame.ellipsoid((0, 30, -5), (u(5, 8), u(3, 5), 12), "csf", 0.0, 0.1)           # fourth ventricle
    frame.ellipsoid((0, -18, 20), (u(9, 13), u(7, 10), 6), "csf", 0.0, 0.15)       # suprasellar cistern
    frame.ellipsoid((0, 7, 25), (u(16, 19), u(14, 17), 11), "csf", 0.0, 0.05)      # ambient cistern
    frame.ellipsoid((0, 5, 25), (13, 11, 12), "white_matter", 0.0, 0.05)          # midbrain


def _nuclei_and_ventricles(pen: Pen, frame: Frame, atrophy: float) -> None:
    u = pen.u
    s = (0.75 + 1.2 * atrophy) * u(0.85, 1.15)
    for side in (-1, 1):
        frame.ellipsoid((side * 13, -20, 47), (6, 9, 10), "deep_grey_matter", 0.0, 0.05)               # caudate head
        frame.ellipsoid((side * (12 + 4.5 * s), -2, 60), (3, 18, 8), "deep_grey_matter", side * 0.08)   # caudate body
        frame.ellipsoid((side * 23, -6, 40), (u(6, 8), u(13, 16), 11), "deep_grey_matter", -side * 0.2)  # lentiform
        frame.ellipsoid((side * 10, 6, 40), (u(8, 10), u(11, 14), 10), "deep_grey_matter", side * 0.1)   # thalamus
    frame.ellipsoid((0, -3, 38), (1.2 * s + 0.5, 12, 12), "csf")                                   # third ventricle
    for side in (-1, 1):
        frame.ellipsoid((side * (5 + 3 * s), -24, 50), (5 * s, 13, 12), "csf", side * 0.45, 0.05)   # frontal horn
        frame.ellipsoid((side * (6 + 4 * s), -2, 62), (4.5 * s, 24, 10), "csf", side * 0.08, 0.05)  # body
        frame.ellipsoid((side * 20, 26, 46), (6 * s, 12 * s, 10), "csf", -side * 0.5, 0.08)         # atrium
        frame.ellipsoid((side * 28, -8, 10), (1.5 * s, 6 * s, 8), "csf", side * 0.3)                # temporal horn
        if pen.chance(0.5):
            frame.ellipsoid((side * 20, 28, 46), (2.5, 3, 4), ("calcification", pen.hu("calcification", 50)))
    if pen.chance(0.6):
        frame.ellipsoid((0, 16, 38), (2.5, 2.5, 3), ("calcification", pen.hu("calcification", 50)))  # pineal
