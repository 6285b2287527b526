"""Random anatomical-like axial CT phantoms in Hounsfield units.

Each phantom is an axial slice of a thorax, abdomen or pelvis: air (-1000 HU) outside an
elliptical body with a subcutaneous fat layer (-120..-80 HU) around soft tissue (10..50 HU);
organs (20..80 HU: heart, liver, spleen, kidneys, bowel, bladder ~0..15 HU); air pockets
(lungs -900..-820 HU, bowel gas -1000..-900 HU); bone (vertebra with a cortical shell
700..1100 HU and cancellous core 300..500 HU, posterior arch and spinous process, ribs
500..1000 HU, iliac wings 600..1100 HU); contrast-filled vessels (aorta, vena cava and small
vessels, 100..300 HU); and a faint smooth texture (a few HU) inside the body. The body stays
inside the inscribed circle, as the CT projector assumes.

Shapes are "blobs": ellipses whose radius is modulated by a few low harmonics, with
anti-aliased (partial-volume) edges, painted in order onto vectorised coordinate grids for
the whole batch at once, on the requested device.

Reproducibility: phantom ``index`` of ``seed`` depends only on ``(seed, index)`` (its shape
parameters are drawn from ``numpy.random.default_rng([seed, index])``), not on the batch it
is generated in nor on the image size: a map-style dataset returns
``phantoms([i], size, seed=seed)[0]`` for item ``i``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

#: Parameters of one blob: active, centre x, centre y, semi-axes a, b, rotation, HU value,
#: then (amplitude, phase) of the 2nd, 3rd and 4th radial harmonics. Coordinates are
#: normalised to [-1, 1] across the image (x to the right, y down).
BLOB_FIELDS = ("active", "cx", "cy", "a", "b", "rot", "value", "h2", "p2", "h3", "p3", "h4", "p4")
N_BLOBS = 43
N_WAVES = 6
AIR_HU = -1000.0


def phantoms(indices: Sequence[int] | torch.Tensor, size: int = 256, *, seed: int = 0,
             device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Phantoms ``(N, 1, size, size)`` in HU for the given sample ``indices`` of ``seed``."""
    idx = [int(i) for i in (indices.tolist() if isinstance(indices, torch.Tensor) else indices)]
    if int(seed) < 0 or any(i < 0 for i in idx):
        raise ValueError(f"seed and indices must be >= 0, got seed {seed}, indices {idx}")
    if int(size) < 8:
        raise ValueError(f"phantom size must be >= 8 pixels, got {size}")
    blobs, waves = zip(*(phantom_parameters(seed, i) for i in idx)) if idx else ((), ())
    if not idx:
        return torch.empty(0, 1, size, size, device=device, dtype=dtype)
    return _rasterise(np.stack(blobs), np.stack(waves), int(size), torch.device(device or "cpu"), dtype)


def random_phantoms(n: int, size: int = 256, *, generator: torch.Generator | None = None, seed: int | None = None,
                    device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` phantoms: indices ``0..n-1`` of ``seed``, or of a seed drawn from ``generator``
    (one 63-bit draw; the global RNG is used only when neither is given)."""
    if seed is None:
        gen_device = generator.device if generator is not None else "cpu"
        seed = int(torch.randint(0, 2**63 - 1, (), generator=generator, device=gen_device))
    return phantoms(range(n), size, seed=seed, device=device, dtype=dtype)


def phantom_parameters(seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The blob table ``(N_BLOBS, len(BLOB_FIELDS))`` and texture waves ``(N_WAVES, 4)``
    (kx, ky, phase, amplitude in HU) of phantom ``index`` of ``seed``."""
    rng = np.random.default_rng([int(seed), int(index)])
    return _Drawer(rng).draw()


class _Drawer:
    """Draws one phantom's parameters (a small per-sample table; rasterising is batched)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.blobs = np.zeros((N_BLOBS, len(BLOB_FIELDS)))
        self.slot = 0

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def add(self, cx, cy, a, b, value, rot=0.0, wobble=0.0, active=True) -> None:
        h = self.rng.uniform(0, wobble, 3) if wobble > 0 else np.zeros(3)
        p = self.rng.uniform(0, 2 * math.pi, 3)
        self.blobs[self.slot] = (float(active), cx, cy, a, b, rot, value, h[0], p[0], h[1], p[1], h[2], p[2])
        self.slot += 1

    def skip(self, count: int = 1) -> None:
        self.slot += count

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        u, rng = self.u, self.rng
        kind = rng.choice(["thorax", "abdomen", "pelvis"], p=[0.35, 0.45, 0.2])
        # Body: fat outline, soft tissue inside (same centre, rotation and harmonics).
        cx, cy, rot = rng.normal(0, 0.02), rng.normal(0.03, 0.02), u(-0.08, 0.08)
        a, b = u(0.70, 0.88), u(0.50, 0.66) if kind != "thorax" else u(0.55, 0.68)
        fat = u(0.02, 0.08)
        self.add(cx, cy, a, b, u(-120, -80), rot, 0.02)
        outline = self.blobs[0, 7:].copy()
        ai, bi = a - fat, b - fat * u(0.8, 1.2)
        self.add(cx, cy, ai, bi, u(10, 50), rot)
        self.blobs[1, 7:] = outline
        cos, sin = math.cos(rot), math.sin(rot)

        def at(pu: float, pv: float) -> tuple[float, float]:  # point in the inner body's unit frame
            x, y = pu * ai, pv * bi
            return cx + cos * x - sin * y, cy + sin * x + cos * y

        self.add(*at(0, u(-0.1, 0.2)), u(0.3, 0.5) * ai, u(0.3, 0.5) * bi, u(-110, -80), u(-0.3, 0.3), 0.08,
                 active=kind != "thorax" and rng.random() < 0.7)  # visceral fat
        # Lungs (thorax).
        for side in (-1, 1):
            self.add(*at(side * u(0.42, 0.52), u(-0.15, 0.0)), u(0.22, 0.28) * ai / 0.75, u(0.55, 0.7) * bi,
                     u(-900, -820), side * u(0.0, 0.25), 0.05, active=kind == "thorax")
        # The major organ: heart, liver or bladder.
        if kind == "thorax":
            self.add(*at(u(0.0, 0.15), u(-0.15, 0.05)), u(0.17, 0.22), u(0.14, 0.19), u(30, 50), u(-0.5, 0.5), 0.05)
        elif kind == "abdomen":
            self.add(*at(-u(0.35, 0.5), u(-0.3, 0.0)), u(0.3, 0.4) * ai, u(0.4, 0.6) * bi, u(50, 70),
                     u(-0.3, 0.3), 0.08)
        else:
            r = u(0.1, 0.18)
            self.add(*at(u(-0.05, 0.05), u(-0.45, -0.2)), r, r * u(0.8, 1.0), u(0, 15), u(-0.3, 0.3), 0.04)
        # Other organs: kidneys and spleen in the abdomen, random ones elsewhere (6 slots).
        if kind == "abdomen":
            value = u(30, 80)
            for side in (-1, 1):
                self.add(*at(side * u(0.35, 0.45), u(0.25, 0.4)), u(0.06, 0.09), u(0.09, 0.13),
                         value + u(-5, 5), side * u(0.2, 0.6), 0.05, active=rng.random() < 0.9)
            self.add(*at(u(0.5, 0.6), u(0.0, 0.3)), u(0.08, 0.12), u(0.12, 0.18), u(40, 60), u(-0.5, 0.5), 0.06,
                     active=rng.random() < 0.6)
            extra = 3
        else:
            extra = 6
        spread = (0.2, 0.5) if kind == "thorax" else (0.65, 0.65)  # thorax: the mediastinum only
        for k in range(extra):
            r, phi = math.sqrt(rng.random()), u(0, 2 * math.pi)
            self.add(*at(spread[0] * r * math.cos(phi), spread[1] * r * math.sin(phi)), u(0.05, 0.13),
                     u(0.05, 0.13), u(20, 80),
                     u(0, math.pi), 0.1, active=rng.random() < (0.3 if kind == "thorax" else 0.6))
        # Bowel gas (6 slots).
        for k in range(6):
            r, phi = 0.6 * math.sqrt(rng.random()), u(0, 2 * math.pi)
            radius = u(0.02, 0.06)
            self.add(*at(r * math.cos(phi), min(r * math.sin(phi), 0.3)), radius, radius * u(0.6, 1.0),
                     u(-1000, -900), u(0, math.pi), 0.1, active=kind != "thorax" and rng.random() < 0.5)
        self._spine(at, bi, kind)
        self._ribs(at, kind)
        # Iliac wings (pelvis).
        for side in (-1, 1):
            self.add(*at(side * u(0.5, 0.65), u(0.0, 0.3)), u(0.18, 0.24), u(0.04, 0.07), u(600, 1100),
                     -side * u(0.4, 0.9), 0.1, active=kind == "pelvis")
        waves = np.stack([np.array([k * math.cos(d), k * math.sin(d), ph, 0.0]) for k, d, ph in
                          zip(rng.uniform(3, 25, N_WAVES), rng.uniform(0, 2 * math.pi, N_WAVES),
                              rng.uniform(0, 2 * math.pi, N_WAVES))])
        waves[:, 3] = u(2, 8) * math.sqrt(2.0 / N_WAVES)
        assert self.slot == N_BLOBS, self.slot
        return self.blobs, waves

    def _spine(self, at, bi: float, kind: str) -> None:
        u = self.u
        va, vb = (u(0.12, 0.16), u(0.07, 0.09)) if kind == "pelvis" else (u(0.08, 0.11), u(0.07, 0.095))
        gap, arch_b, spin_b = u(0.05, 0.06), u(0.05, 0.065), u(0.04, 0.07)
        tip = vb + gap + arch_b + 0.02 + 2 * spin_b
        x0, y0 = at(u(-0.03, 0.03), 0.0)
        y0 = y0 + max(0.05, 0.92 * bi - tip)  # spinous tip just inside the soft tissue
        self.add(x0, y0, va, vb, u(700, 1100), u(-0.05, 0.05), 0.03)               # cortical shell
        self.add(x0, y0, va * 0.8, vb * 0.8, u(300, 500), 0.0, 0.03)                 # cancellous core
        ay = y0 + vb + gap
        self.add(x0, ay, u(0.07, 0.09), arch_b, u(600, 1000), 0.0, 0.05)            # posterior arch
        self.add(x0, ay + arch_b + 0.02 + spin_b, u(0.015, 0.025), spin_b, u(600, 1000), u(-0.1, 0.1))
        r = u(0.03, 0.04)
        self.add(x0, ay - 0.01, r, r * u(0.8, 1.0), u(0, 20), 0.0, 0.03)             # spinal canal (CSF)
        # Vessels: aorta anterior to the spine, vena cava to its right, small vessels.
        ax, ay_ = x0 + u(-0.03, 0.03), y0 - vb - u(0.04, 0.07)
        r = u(0.035, 0.055)
        self.add(ax, ay_ - r, r, r * u(0.9, 1.0), u(120, 300), 0.0, 0.02)
        self.add(ax - u(0.08, 0.12), ay_ - r + u(-0.02, 0.02), u(0.03, 0.05), u(0.025, 0.04), u(100, 250),
                 u(-0.3, 0.3), 0.05)
        for k in range(4):
            rr, phi = 0.7 * math.sqrt(self.rng.random()), u(0, 2 * math.pi)
            radius = u(0.008, 0.02)
            self.add(*at(rr * math.cos(phi), rr * math.sin(phi)), radius, radius, u(100, 300),
                     active=self.rng.random() < 0.6)

    def _ribs(self, at, kind: str) -> None:
        count = {"thorax": int(self.rng.integers(6, 13)), "abdomen": int(self.rng.integers(0, 7)) *
                 int(self.rng.random() < 0.5), "pelvis": 0}[kind]
        for k in range(12):
            phi = self.u(0, 2 * math.pi)
            while abs(math.remainder(phi - math.pi / 2, 2 * math.pi)) < 0.4 or \
                    abs(math.remainder(phi + math.pi / 2, 2 * math.pi)) < 0.3:
                phi = self.u(0, 2 * math.pi)  # not over the spine, not at the sternum
            x, y = at(0.9 * math.cos(phi), 0.9 * math.sin(phi))
            self.add(x, y, self.u(0.025, 0.04), self.u(0.015, 0.022), self.u(500, 1000), phi + math.pi / 2,
                     active=k < count)


def _blob_box(blob: np.ndarray, size: int) -> tuple[slice, slice]:
    """Pixel rows and columns that can be covered by one blob slot over a batch (``blob``:
    (N, fields)): its centre +- the largest radius its harmonics allow, plus the anti-aliased
    edge. Painting only there is exact: outside, the cover is 0 and the image unchanged."""
    active = blob[:, 0] > 0
    if not active.any():
        return slice(0, 0), slice(0, 0)
    b = blob[active]
    reach = (1.0 + np.abs(b[:, 7]) + np.abs(b[:, 9]) + np.abs(b[:, 11])) * np.maximum(b[:, 3], b[:, 4])
    margin = 2.0 * (2.0 / size) * np.maximum(b[:, 3], b[:, 4]) / np.minimum(b[:, 3], b[:, 4]) + 2.0 / size

    def span(centre: np.ndarray) -> slice:
        lo = np.min(centre - reach - margin)
        hi = np.max(centre + reach + margin)
        return slice(max(0, int(np.floor((lo + 1.0) * size / 2.0)) - 1), min(size, int(np.ceil((hi + 1.0) * size / 2.0)) + 1))

    return span(b[:, 2]), span(b[:, 1])


def _rasterise(blobs: np.ndarray, waves: np.ndarray, size: int, device: torch.device,
               dtype: torch.dtype) -> torch.Tensor:
    """Paint the blobs of each sample, in slot order, on (N, S, S) coordinate grids."""
    p = torch.as_tensor(blobs, dtype=torch.float32, device=device)
    w = torch.as_tensor(waves, dtype=torch.float32, device=device)
    n = p.shape[0]
    coords = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) * (2.0 / size) - 1.0
    x, y = coords[None, None, :], coords[None, :, None]
    image = torch.full((n, size, size), AIR_HU, device=device)
    body = None
    active_any = blobs[:, :, 0].any(axis=0)
    for k in range(N_BLOBS):
        if not active_any[k]:
            continue
        rows, cols = _blob_box(blobs[:, k], size) if k > 0 else (slice(0, size), slice(0, size))
        q = p[:, k, :, None, None]  # (N, fields, 1, 1)
        dx, dy = x[..., cols] - q[:, 1], y[:, rows] - q[:, 2]
        cos, sin = q[:, 5].cos(), q[:, 5].sin()
        ux, vy = (cos * dx + sin * dy) / q[:, 3], (cos * dy - sin * dx) / q[:, 4]
        rho, theta = torch.sqrt(ux * ux + vy * vy), torch.atan2(vy, ux)
        radius = 1.0 + q[:, 7] * torch.cos(2 * theta + q[:, 8]) + q[:, 9] * torch.cos(3 * theta + q[:, 10]) \
            + q[:, 11] * torch.cos(4 * theta + q[:, 12])
        distance = (rho - radius) * torch.minimum(q[:, 3], q[:, 4]) * (size / 2.0)  # ~ pixels outside the edge
        cover = (0.5 - distance).clamp(0.0, 1.0) * q[:, 0]
        region = image[:, rows, cols]
        image[:, rows, cols] = region + cover * (q[:, 6] - region)
        if k == 0:
            body = cover
    phase = w[:, :, 0, None, None] * x[:, None] + w[:, :, 1, None, None] * y[:, None] + w[:, :, 2, None, None]
    texture = (w[:, :, 3, None, None] * torch.cos(phase)).sum(dim=1)
    image = (image + texture * body).clamp(min=AIR_HU)
    return image.unsqueeze(1).to(dtype)
