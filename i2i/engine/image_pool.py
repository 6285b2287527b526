"""The reference's image pool: D sometimes sees older generated pairs (Shrivastava et al. 2017)."""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """Holds up to ``size`` past generated pairs. Each new pair is returned as is while the pool
    fills; afterwards, with probability 1/2, an old pair is returned and replaced by the new one.
    Draws come from torch's global generator (part of the checkpointed RNG state)."""

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, pairs: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return pairs
        out = []
        for pair in pairs.detach():
            pair = pair.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(pair.clone())
                out.append(pair)
            elif torch.rand(()) > 0.5:
                index = int(torch.randint(0, self.size, ()))
                out.append(self.images[index].clone())
                self.images[index] = pair.clone()
            else:
                out.append(pair)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"images": torch.cat(self.images, 0).cpu() if self.images else None}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        images = state.get("images")
        self.images = [] if images is None else [im.unsqueeze(0).to(device) for im in images]
