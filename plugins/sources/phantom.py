"""``phantom``: built-in random anatomical CT phantoms in HU, so CT recipes need no data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch.utils.data import Dataset

from i2i.data import Source

#: Phantom seeds of the splits are this far apart, so splits never share a phantom.
SPLIT_SEED_STRIDE = 1_000_003


#: Phantoms a dataset keeps in memory once drawn (bytes); beyond it they are drawn anew each time.
CACHE_BYTES = 1 << 30

Region = Literal["head", "thorax", "abdomen", "pelvis"]


class PhantomDataset(Dataset):
    """Phantom ``i`` of ``seed``: ``{"target": (1, size, size) float32 HU, "spacing":
    (row_mm, col_mm) float32, "region": "head" | "trunk", "path": str, "noiseless": True}``
    (no scanner noise: a low-dose simulation inserts all of it), the same every time. Drawn phantoms are kept
    (up to :data:`CACHE_BYTES` per dataset), so epochs after the first cost no rasterising."""

    def __init__(self, count: int, size: int, seed: int, split: str, regions=None, fov_mm=None):
        self.count, self.size, self.seed, self.split = count, size, seed, split
        self.regions, self.fov_mm = regions, fov_mm
        self._cache: dict[int, torch.Tensor] | None = {} if count * size * size * 4 <= CACHE_BYTES else None
        self._plans: dict[int, tuple[str, tuple[float, float]]] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        from i2i.medical.phantom import phantoms

        hu = self._cache.get(index) if self._cache is not None else None
        if hu is None:
            hu = phantoms([index], self.size, seed=self.seed, regions=self.regions, fov_mm=self.fov_mm)[0]
            if self._cache is not None:
                self._cache[index] = hu
        return {"target": hu.clone(), "spacing": torch.tensor(self.spacing_of(index), dtype=torch.float32),
                "path": f"phantom-{self.split}-{self.seed}-{index:06d}", "noiseless": torch.tensor(True),
                "region": self.region_of(index)}

    def size_of(self, index: int) -> tuple[int, int]:
        return self.size, self.size

    def spacing_of(self, index: int) -> tuple[float, float]:
        """Pixel spacing ``(row_mm, col_mm)`` of phantom ``index`` (its field of view / size;
        cheap: draws its region, not its anatomy)."""
        return self._plan(index)[1]

    def region_of(self, index: int) -> str:
        """``head`` or ``trunk``: the body region phantom ``index`` shows (cheap, as above)."""
        return self._plan(index)[0]

    def _plan(self, index: int) -> tuple[str, tuple[float, float]]:
        from i2i.medical.phantom import phantom_plan
        from i2i.medical.regions import region_of_phantom

        if index not in self._plans:  # asked for every item of every epoch: drawn once
            region, fov = phantom_plan(self.seed, index, self.regions, self.fov_mm)
            self._plans[index] = region_of_phantom(region), (fov / self.size, fov / self.size)
        return self._plans[index]


class PhantomSource(Source):
    """Random anatomical axial CT slices in HU, drawn in mm at adult sizes and rasterised
    at ``size`` pixels: heads (scalp, skull with diploe, grey and white matter, ventricles,
    sinuses and mastoid air cells, orbits; from the skull base to the vertex) and trunks
    (thorax, abdomen, pelvis: fat, organs, lungs, bowel gas, vertebrae, ribs, pelvic
    bones, contrast vessels); see :mod:`i2i.medical.phantom`.

    ``regions``: the mix of body regions, a list (equal shares) or a table of weights,
    e.g. ``["head", "abdomen"]`` or ``{head = 3, thorax = 1}``; default all four equally.
    ``fov_mm``: the field of view in mm, for every region or as a table per region
    (default head 250, trunk 400); samples report their pixel ``spacing`` (fov / size).

    Generated on the fly, reproducibly: phantom i of a split depends only on
    ``phantom_seed``, the split, i and the options. ``train_count`` is the length of a
    training epoch; ``val_count`` and ``test_count`` held-out phantoms come from other seeds."""

    def __init__(self, size: int = 128, train_count: int = 4096, val_count: int = 32, test_count: int = 64,
                 phantom_seed: int = 0, regions: list[Region] | Mapping[str, float] | None = None,
                 fov_mm: float | Mapping[str, float] | None = None, root: str | None = None):
        from i2i.medical.phantom import check_fov, region_weights

        if root is not None:
            raise ValueError(f"the phantom source generates its slices and reads no files, but data.root is {root!r}; "
                             "for your own DICOM/NIfTI/NPY scans use source.name = \"ct\" (without data.root it "
                             "falls back to these phantoms)")
        if size < 16:
            raise ValueError(f"phantom size must be >= 16 pixels, got {size}")
        if min(train_count, val_count, test_count) < 1:
            raise ValueError("train_count, val_count and test_count must be >= 1")
        region_weights(regions)
        check_fov(fov_mm)
        self.size, self.phantom_seed = size, phantom_seed
        self.regions, self.fov_mm = regions, fov_mm
        self.counts = {"train": train_count, "val": val_count, "test": test_count}

    def splits(self) -> list[str]:
        return ["train", "val", "test"]

    def dataset(self, split: str) -> PhantomDataset:
        offset = ["train", "val", "test"].index(split)
        return PhantomDataset(self.counts[split], self.size, self.phantom_seed + offset * SPLIT_SEED_STRIDE, split,
                              self.regions, self.fov_mm)
