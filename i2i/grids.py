"""Image grids: rows of ``input | output | target`` tiles in one PNG (sample grids during
training, ``i2i predict --pairs --grid``), encoded in memory for an atomic write."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def grid_image(rows: list[list[torch.Tensor]], gap: int = 4) -> np.ndarray:
    """Tile ``rows`` of (C, H, W) tensors in [0, 1] (C 1 or 3) into one RGB uint8 array."""
    tiles = [[_rgb(t) for t in row] for row in rows]
    h = max(t.shape[1] for row in tiles for t in row)
    w = max(t.shape[2] for row in tiles for t in row)
    ncols = max(len(row) for row in tiles)
    canvas = torch.ones(3, len(tiles) * (h + gap) - gap, ncols * (w + gap) - gap)
    for r, row in enumerate(tiles):
        for c, t in enumerate(row):
            y, x = r * (h + gap), c * (w + gap)
            canvas[:, y:y + t.shape[1], x:x + t.shape[2]] = t
    return (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def _rgb(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().float().cpu()
    return t.expand(3, -1, -1) if t.shape[0] == 1 else t[:3]


def grid_png(inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> bytes:
    """A PNG of ``input | output | target`` rows for a batch of display tensors in [0, 1]
    (written by the caller with :func:`i2i.atomic.write_bytes`)."""
    rows = [[inputs[i], outputs[i], targets[i]] for i in range(inputs.shape[0])]
    buffer = io.BytesIO()
    Image.fromarray(grid_image(rows)).save(buffer, format="PNG")
    return buffer.getvalue()
