"""Sample grids: one row per image, ``input | output | target``."""

from __future__ import annotations

from pathlib import Path

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


def save_grid(path: Path, inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> Path:
    """Save ``input | output | target`` rows for a batch of display tensors in [0, 1]."""
    rows = [[inputs[i], outputs[i], targets[i]] for i in range(inputs.shape[0])]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid_image(rows)).save(path)
    return path


def write_samples(trainer) -> Path:
    """``samples/step_XXXXXXXX.png``: input | output | target rows for the trainer's fixed
    images (the EMA generator's output when EMA is on)."""
    from i2i.nn.sizing import forward_any_size, unwrap

    net = trainer.ema.module if trainer.ema is not None else unwrap(trainer.generator)
    with torch.no_grad(), torch.random.fork_rng(devices=trainer.rng_devices()):
        was_training = net.training
        net.eval()
        rows = []
        for raw in trainer.sample_batches:
            x, y = trainer.prepare(raw, train=False)
            rows.append(trainer.task.display(x, forward_any_size(net, x), y))
        net.train(was_training)
    path = trainer.run_dir / "samples" / f"step_{trainer.step:08d}.png"
    if len({r[0].shape for r in rows}) == 1:
        return save_grid(path, *(torch.cat(parts) for parts in zip(*rows)))
    for i, row in enumerate(rows):
        save_grid(path.with_name(f"{path.stem}_{i}.png"), *row)
    return path
