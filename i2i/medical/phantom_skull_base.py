"""The skull base and face of the head phantoms: orbits, sinuses, mastoids, petrous bone.

Slices through 3-D ellipsoids in the head frame of an average adult (mm; ``u`` to the
image's right, ``v`` posterior, ``z`` above the orbits' centre):

* orbits (-16..16 mm), diverging 22 degrees from the midline: thin bony walls around
  retrobulbar fat, the globe (24 mm: sclera, vitreous; the lens at -3..3 mm), the optic
  nerve running back to the apex and the medial and lateral recti;
* air with thin bony walls: ethmoid air cells between the orbits (-12..18 mm), the
  sphenoid sinus behind them (-15..10 mm), the frontal sinus in the frontal bone
  (12..38 mm, in most heads), maxillary sinuses (-42..-12 mm, lined by mucosa), the nasal
  cavity with septum and turbinates and the nasopharynx (below -10 and -18 mm), and the
  mastoid air cells behind the petrous bone (-38..2 mm);
* dense bone: the petrous ridges (-25..8 mm, with the internal auditory canals), the
  clivus (-40..-5 mm) and the zygomatic arches (-28..-12 mm), the temporal fossae with
  their muscle lateral to the orbits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from i2i.medical.phantom_pen import Frame, Pen


def draw_skull_base(pen: Pen, frame: Frame, sinus: float, front: float, skin: Callable[[float], float]) -> None:
    """Paint what the level ``frame.z`` cuts of the skull base and face; ``sinus``: the
    frontal sinus' room in the diploe (mm, 0: none), ``front``: the skull's outside in
    front (mm from the centre), ``skin(theta)``: the skin's distance at frame angle ``theta``."""
    z = frame.z
    if z > 40:
        return
    if sinus > 1.0:
        _frontal_sinus(pen, frame, sinus, front)
    for side in (-1, 1):
        frame.shell((side * 25, -56, -27), (14, 16, 15), [(0, "thin_bone"), (1.2, "mucosa"),
                                                          (1.2 + pen.u(0, 3) ** 2 / 3, "air")], -side * 0.2, 0.05)
    _nose(pen, frame)
    frame.shell((0, -18, -22), (11, 10, 18), [(0, "cortical_bone"), (1.0, "diploe")], 0.0, 0.05)  # clivus
    if pen.chance(0.9):
        frame.shell((0, -38, -3), (pen.u(10, 15), pen.u(9, 12), 13),
                    [(0, "thin_bone"), (1.2, "mucosa"), (1.2 + pen.u(0, 1.0), "air")], 0.0, 0.08)  # sphenoid sinus
        if frame.section(-3, 13) > 0:
            frame.capsule((pen.u(-4, 4), -48), (pen.u(-4, 4), -28), 0.6, "thin_bone")
    frame.ellipsoid((0, -62, 3), (11, 23, 15), "thin_bone", 0.0, 0.05)              # ethmoid
    frame.honeycomb((0, -62, 3), (10, 22, 15), pen.u(4, 8), pen.u(0.4, 0.8))
    if frame.section(3, 15) > 0:
        frame.capsule((0, -84), (0, -42), 0.7, "thin_bone")                          # septum
    for side in (-1, 1):
        _orbit(pen, frame, side, skin)
        _temporal_bone(pen, frame, side, skin)


def _frontal_sinus(pen: Pen, frame: Frame, depth: float, front: float) -> None:
    """Big air cells with thin walls in the thick frontal bone in front of the brain."""
    f = frame.section(25, 13)
    width = pen.u(10, 24) * f
    centre = frame.polar(-math.pi / 2, front - pen.u(1.2, 2.0) - depth / 2)
    if width < 3 or depth < 3:
        return
    pen.honeycomb(centre, width, depth / 2 - 0.5, frame.rot, pen.u(6, 11), pen.u(0.8, 1.5))


def _nose(pen: Pen, frame: Frame) -> None:
    """Nasal cavity with septum and turbinates, and the nasopharynx behind it."""
    for side in (-1, 1):
        frame.shell((side * 8, -64, -28), (7, 24, 18), [(0, "thin_bone"), (1.0, "air")], 0.0, 0.05)
        frame.ellipsoid((side * 11, -62, -30), (3.5, 14, 12), "mucosa", 0.0, 0.1)      # turbinates
    if frame.section(-28, 18) > 0:
        frame.capsule((0, -88), (0, -42), 1.0, "thin_bone")
    frame.ellipsoid((0, -36, -32), (13, 7, 12), "air", 0.0, 0.1)                       # nasopharynx


def _orbit(pen: Pen, frame: Frame, side: int, skin: Callable[[float], float]) -> None:
    """One orbit: bony walls around fat, the recti, the optic nerve, the globe and lens
    (its front 2-4 mm behind the skin of the eyelids)."""
    axis = (side * math.sin(0.38), -math.cos(0.38))  # from the apex towards the globe
    radius, lid = pen.u(11.5, 12.5), pen.u(2, 4)
    sx, sy = frame.scale
    globe = (side * 31.0, -76.0)
    for _ in range(3):  # the globe's centre on its ray from the head's centre, radius + lid inside the skin
        theta = math.atan2(globe[1] * sy, globe[0] * sx)
        reach = skin(theta) - lid - radius
        globe = (reach * math.cos(theta) / sx, reach * math.sin(theta) / sy)

    def along(t: float, off: float = 0.0) -> tuple[float, float]:  # t mm along the axis, off mm across it
        return globe[0] + t * axis[0] - off * axis[1] * side, globe[1] + t * axis[1] + off * axis[0] * side

    if not frame.shell((*along(-14), 0.0), (15, 20, 16), [(0, "thin_bone"), (pen.u(1.2, 2.0), "fat")],
                       side * 0.38, 0.05):
        return
    wall = frame.section(0, 12)
    if wall > 0:
        for off in (-11.0, 11.0):
            frame.capsule(along(-6, off * 0.9), along(-32, off * 0.35), 2.0 * wall, "muscle", 1.2 * wall)
        nerve = frame.section(0, 5)
        if nerve > 0:
            frame.capsule(along(-10), along(-38, -3), 2.3 * nerve, "white_matter")  # optic nerve
    frame.shell((*globe, 0.0), (radius, radius, radius), [(0, "muscle"), (1.0, "vitreous")])
    frame.ellipsoid((*along(radius - 3.0), 0.0), (4.5, 2.0, 3.5), "lens", side * 0.38)


def _temporal_bone(pen: Pen, frame: Frame, side: int, skin: Callable[[float], float]) -> None:
    """Petrous ridge with the internal auditory canal, mastoid air cells, zygomatic arch."""
    f = frame.section(-8, 16)
    if f > 0:  # the ridge shortens towards its top
        mid, half, g = (side * 32, 10), (side * 18, 12), math.sqrt(f)
        frame.capsule((mid[0] + g * half[0], mid[1] + g * half[1]), (mid[0] - g * half[0], mid[1] - g * half[1]),
                      pen.u(7, 10) * f, ("petrous_bone", pen.hu("petrous_bone", 60)), pen.u(4, 6) * f)
        iac = frame.section(-4, 4)
        if iac > 0:
            frame.capsule((side * 33, 11), (side * 21, 5), 1.6 * iac, "csf")
    if frame.ellipsoid((side * 47, 33, -18), (12, 15, 20), "thin_bone", -side * 0.3, 0.1) and pen.chance(0.9):
        frame.honeycomb((side * 47, 33, -18), (11, 14, 20), pen.u(2, 5), pen.u(0.4, 0.9), -side * 0.3)
    arch = frame.section(-20, 8)
    if arch > 0:  # 6-9 mm under the skin, from the cheek back to the ear
        depth = pen.u(6, 9)
        ends = [frame.polar(t, skin(t) - depth) for t in (-math.pi / 2 + side * 0.75, -math.pi / 2 + side * 1.35)]
        pen.capsule(ends[0], ends[1], 2.5 * arch, "cortical_bone")
