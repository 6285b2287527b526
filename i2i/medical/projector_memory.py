"""How much the projector (:mod:`i2i.medical.projector`) holds at once, sized for the device:
how many sampled values a chunk of views may hold, and the sampling grids kept between calls.

On the CPU both are fixed budgets (:data:`CHUNK_ELEMENTS`, :data:`GRID_CACHE_BYTES`): chunks
small enough for the caches, grids of the common geometries kept. On a GPU they follow the
device's free memory, read once per device (:data:`GPU_MEMORY_SHARE` of it): a 512-pixel
slice at full sampling then takes a few large launches instead of tens of thousands of small
ones, and its full-view grids are kept instead of rebuilt on every call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

import torch

#: Sampled values held at once per chunk of views on the CPU (16 MiB in float32; the sampling
#: grid is twice that).
CHUNK_ELEMENTS = 2**22
#: Bytes of sampling grids kept between calls on the CPU.
GRID_CACHE_BYTES = 512 * 2**20
#: The share of a GPU's free memory (when first used) that chunks and kept grids may each take.
GPU_MEMORY_SHARE = 1 / 8
#: At most this many sampled values per chunk on a GPU (3 GiB with their float32 grids).
GPU_MAX_CHUNK_ELEMENTS = 2**28
#: Bytes per sampled value of a chunk: the value and its two grid coordinates, in float32.
BYTES_PER_ELEMENT = 12

_grid_cache: OrderedDict[tuple, tuple[list[tuple[torch.Tensor, ...]], int]] = OrderedDict()


def chunk_elements(device: torch.device) -> int:
    """Sampled values one chunk of views may hold on ``device``: :data:`CHUNK_ELEMENTS` on the
    CPU; on a GPU :data:`GPU_MEMORY_SHARE` of its free memory, between the CPU budget and
    :data:`GPU_MAX_CHUNK_ELEMENTS`."""
    if device.type != "cuda":
        return CHUNK_ELEMENTS
    share = int(_free_bytes(_index(device)) * GPU_MEMORY_SHARE) // BYTES_PER_ELEMENT
    return max(CHUNK_ELEMENTS, min(GPU_MAX_CHUNK_ELEMENTS, share))


def grid_cache_bytes(device: torch.device) -> int:
    """Bytes of sampling grids kept between calls for ``device``: :data:`GRID_CACHE_BYTES` on
    the CPU, :data:`GPU_MEMORY_SHARE` of a GPU's free memory (at least that) on a GPU."""
    if device.type != "cuda":
        return GRID_CACHE_BYTES
    return max(GRID_CACHE_BYTES, int(_free_bytes(_index(device)) * GPU_MEMORY_SHARE))


def _index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


@lru_cache(maxsize=None)
def _free_bytes(index: int) -> int:
    """Free memory of GPU ``index`` when the projector first runs there (read once: a driver
    query, not a stream synchronisation, but not free either)."""
    return int(torch.cuda.mem_get_info(index)[0])


def chunk_grids(geometry: tuple, theta: torch.Tensor, angles: tuple | None, chunk: int, bytes_per_view: int,
                build: Callable[[torch.Tensor], tuple[torch.Tensor, ...]], keep: bool = True
                ) -> list[tuple[torch.Tensor, ...]]:
    """``build(radians)`` for each chunk of ``chunk`` angles of ``theta`` (degrees). When the angles
    are shared by the batch (``theta`` 1-D), identified by ``angles`` (a key the caller made
    without reading a device value; ``None``: not kept) and the grids of all views fit the grid
    cache's budget for the device, they are built once for the geometry, kept, and sliced into
    chunks (views of the kept tensors); the least recently used geometries are dropped first."""
    starts = range(0, theta.shape[-1], chunk)
    budget = grid_cache_bytes(theta.device)
    if not keep or angles is None or theta.ndim != 1 or theta.shape[-1] * bytes_per_view > budget:
        return [build(torch.deg2rad(theta[..., s:s + chunk])) for s in starts]
    key = (*geometry, theta.dtype, str(theta.device), angles)
    hit = _grid_cache.get(key)
    if hit is None:
        parts = [build(torch.deg2rad(theta[s:s + chunk])) for s in starts]
        whole = [torch.cat(column) for column in zip(*parts)]
        size = sum(t.numel() * t.element_size() for t in whole)
        while _grid_cache and sum(b for _, b in _grid_cache.values()) + size > budget:
            _grid_cache.popitem(last=False)
        hit = _grid_cache[key] = (whole, size)
    _grid_cache.move_to_end(key)
    return [tuple(t[s:s + chunk] for t in hit[0]) for s in starts]


def clear_grid_cache() -> None:
    """Drop every kept sampling grid (benchmarks that time the grids' building)."""
    _grid_cache.clear()
