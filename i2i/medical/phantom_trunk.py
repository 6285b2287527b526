"""Axial trunk slices in mm: thorax, abdomen and pelvis of adults.

The body is an ellipse with low-harmonic wobble, 280-380 mm wide and 200-270 mm front
to back, with a subcutaneous fat layer of 4-25 mm; inside: lungs and heart (thorax),
liver, kidneys, spleen and bowel (abdomen), bladder and iliac wings (pelvis); in every
region a vertebra (cortical shell, cancellous body, posterior arch, spinous process,
spinal canal with the cord), paraspinal muscles, the aorta and vena cava with contrast,
small vessels and ribs. Tissue values: :mod:`i2i.medical.phantom_tissues`.
"""

from __future__ import annotations

import math

from i2i.medical.phantom_pen import Pen

TRUNK_REGIONS = ("thorax", "abdomen", "pelvis")


def draw_trunk(pen: Pen, region: str) -> None:
    """Paint one ``region`` slice (``"thorax"``, ``"abdomen"`` or ``"pelvis"``) with ``pen``."""
    u, rng = pen.u, pen.rng
    cx, cy, rot = rng.normal(0, 4), rng.normal(6, 4), u(-0.08, 0.08)
    a, b = u(140, 190), u(110, 136) if region == "thorax" else u(100, 132)
    fat = u(4, 25)
    outer = pen.outline(a, b, rot, 0.02)
    pen.layers((cx, cy), [(outer, "fat"), (pen.inset(outer, fat), "soft_tissue")])
    ai, bi = a - fat, b - fat
    cos, sin = math.cos(rot), math.sin(rot)

    def at(pu: float, pv: float) -> tuple[float, float]:
        """A point of the inner body's unit frame (x right, y down) in mm."""
        x, y = pu * ai, pv * bi
        return cx + cos * x - sin * y, cy + sin * x + cos * y

    if region != "thorax" and pen.chance(0.7):
        pen.ellipse(at(0, u(-0.1, 0.2)), u(0.3, 0.5) * ai, u(0.3, 0.5) * bi, "fat", u(-0.3, 0.3), 0.08)
    if region == "thorax":
        for side in (-1, 1):
            pen.ellipse(at(side * u(0.42, 0.52), u(-0.15, 0.0)), u(0.29, 0.37) * ai, u(0.55, 0.7) * bi,
                        ("lung", pen.hu("lung", 15)), rot + side * u(0.0, 0.25), 0.05)
        pen.ellipse(at(u(0.0, 0.15), u(-0.2, 0.0)), u(45, 60), u(35, 48), "heart", u(-0.5, 0.5), 0.05)
    elif region == "abdomen":
        pen.ellipse(at(-u(0.35, 0.5), u(-0.3, 0.0)), u(0.3, 0.4) * ai, u(0.4, 0.6) * bi, "liver", u(-0.3, 0.3), 0.08)
        for side in (-1, 1):
            if pen.chance(0.9):
                pen.layers(at(side * u(0.33, 0.43), u(0.25, 0.4)),
                           [(pen.outline(u(18, 26), u(24, 32), side * u(0.2, 0.6), 0.05), ("kidney", pen.hu("kidney", 4)))])
        if pen.chance(0.6):
            pen.ellipse(at(u(0.5, 0.6), u(0.0, 0.3)), u(22, 32), u(35, 55), "spleen", u(-0.5, 0.5), 0.06)
    else:
        r = u(20, 36)
        pen.ellipse(at(u(-0.05, 0.05), u(-0.45, -0.2)), r, r * u(0.8, 1.0), "bladder", u(-0.3, 0.3), 0.04)
    _organs_and_gas(pen, at, region)
    _spine(pen, at, bi, region)
    _ribs(pen, at, region)
    if region == "pelvis":
        for side in (-1, 1):
            pen.layers(at(side * u(0.5, 0.65), u(0.0, 0.3)),
                       [(pen.outline(u(36, 48), u(8, 14), -side * u(0.4, 0.9) + rot, 0.1), "pelvic_bone")])
    pen.waves(6, u(2, 8), (50, 420))


def _organs_and_gas(pen: Pen, at, region: str) -> None:
    """Small organs or bowel loops anywhere (the mediastinum only in the thorax), bowel gas."""
    u, rng = pen.u, pen.rng
    spread = (0.2, 0.5) if region == "thorax" else (0.65, 0.65)
    for _ in range(3 if region == "abdomen" else 6):
        r, phi = math.sqrt(rng.random()), u(0, 2 * math.pi)
        if pen.chance(0.3 if region == "thorax" else 0.6):
            pen.ellipse(at(spread[0] * r * math.cos(phi), spread[1] * r * math.sin(phi)), u(10, 26), u(10, 26),
                        ("organ", pen.u(20, 80)), u(0, math.pi), 0.1)
    for _ in range(6):
        r, phi, radius = 0.6 * math.sqrt(rng.random()), u(0, 2 * math.pi), u(4, 12)
        if region != "thorax" and pen.chance(0.5):
            pen.ellipse(at(r * math.cos(phi), min(r * math.sin(phi), 0.3)), radius, radius * u(0.6, 1.0),
                        ("bowel_gas", pen.hu("bowel_gas", 40)), u(0, math.pi), 0.1)


def _spine(pen: Pen, at, bi: float, region: str) -> None:
    """Vertebra (posterior, its spinous tip just inside the soft tissue), canal and cord,
    paraspinal muscles, aorta, vena cava and small vessels."""
    u = pen.u
    va, vb = (u(24, 32), u(14, 18)) if region == "pelvis" else (u(16, 24), u(14, 19))
    gap, arch_b, spin_b = u(10, 12), u(10, 13), u(8, 14)
    tip = vb + gap + arch_b + 4 + 2 * spin_b
    x0, y0 = at(u(-0.03, 0.03), 0.0)
    y0 = y0 + max(10.0, 0.92 * bi - tip)
    ay = y0 + vb + gap
    for side in (-1, 1):
        pen.ellipse((x0 + side * u(28, 40), ay + u(5, 15)), u(18, 28), u(20, 30), ("muscle", pen.hu("muscle", 3)),
                    u(-0.3, 0.3), 0.05)
    shell = pen.outline(va, vb, u(-0.05, 0.05), 0.03)
    pen.layers((x0, y0), [(shell, "vertebra_shell"), (pen.inset(shell, u(1.5, 3.0)), "cancellous_bone")])
    pen.ellipse((x0, ay), u(14, 18), arch_b, ("vertebra_shell", pen.hu("vertebra_shell", 100)), 0.0, 0.05)
    pen.ellipse((x0, ay + arch_b + 4 + spin_b), u(3, 5), spin_b, ("vertebra_shell", pen.hu("vertebra_shell", 100)),
                u(-0.1, 0.1))
    r = u(6, 8)
    pen.ellipse((x0, ay - 2), r, r * u(0.8, 1.0), "csf", 0.0, 0.03)
    if region != "pelvis":
        pen.ellipse((x0, ay - 2), r * 0.55, r * 0.45, "white_matter")  # spinal cord
    ax, ay_ = x0 + u(-6, 6), y0 - vb - u(8, 14)
    r = u(9, 13)
    pen.ellipse((ax, ay_ - r), r, r * u(0.9, 1.0), ("contrast_vessel", pen.u(120, 300)), 0.0, 0.02)
    pen.ellipse((ax - u(16, 24), ay_ - r + u(-4, 4)), u(9, 13), u(6, 10), ("contrast_vessel", pen.u(100, 250)),
                u(-0.3, 0.3), 0.05)
    for _ in range(4):
        rr, phi, radius = 0.7 * math.sqrt(pen.rng.random()), u(0, 2 * math.pi), u(1.6, 4)
        if pen.chance(0.6):
            pen.ellipse(at(rr * math.cos(phi), rr * math.sin(phi)), radius, radius, ("contrast_vessel", u(100, 300)))


def _ribs(pen: Pen, at, region: str) -> None:
    """Ribs in the soft tissue near the body wall (thorax; some in the upper abdomen)."""
    rng = pen.rng
    count = {"thorax": int(rng.integers(6, 13)), "abdomen": int(rng.integers(0, 7)) * int(rng.random() < 0.5),
             "pelvis": 0}[region]
    for _ in range(count):
        phi = pen.u(0, 2 * math.pi)
        while abs(math.remainder(phi - math.pi / 2, 2 * math.pi)) < 0.4 or \
                abs(math.remainder(phi + math.pi / 2, 2 * math.pi)) < 0.3:
            phi = pen.u(0, 2 * math.pi)  # not over the spine, not at the sternum
        outline = pen.outline(pen.u(5, 8), pen.u(3, 4.5), phi + math.pi / 2)
        pen.layers(at(0.9 * math.cos(phi), 0.9 * math.sin(phi)), [(outline, ("rib", pen.u(500, 1000)))])
