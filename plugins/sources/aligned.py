"""``aligned``: side-by-side A|B images, the pix2pix data layout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from i2i.data import DataError, Source, list_images, read_image
from i2i.data.source import resolve_root, split_folders


class AlignedDataset(Dataset):
    """Each file holds A in its left half and B in its right half."""

    def __init__(self, files: list[Path], direction: Literal["AtoB", "BtoA"]):
        self.files = files
        self.direction = direction

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        path = self.files[index]
        image = read_image(path)
        width = image.shape[-1]
        if width % 2:
            raise DataError(f"{path}: width {width} is odd; an aligned A|B image has two halves of equal width")
        a, b = image[..., : width // 2], image[..., width // 2:]
        x, y = (a, b) if self.direction == "AtoB" else (b, a)
        return {"input": x, "target": y, "path": str(path)}


class AlignedSource(Source):
    """Side-by-side A|B images under ``root`` (``train/``, ``val/``, ``test/`` subfolders
    when present). ``direction = "AtoB"`` translates the left half into the right half,
    ``"BtoA"`` the right into the left (facades labels->photo is BtoA)."""

    def __init__(self, root: str, direction: Literal["AtoB", "BtoA"] = "AtoB"):
        self.root = resolve_root(root, "aligned")
        self.direction = direction
        self.folders = split_folders(self.root) if self.root.is_dir() else {"train": self.root}

    def splits(self) -> list[str]:
        return list(self.folders)

    def dataset(self, split: str) -> AlignedDataset:
        folder = self.folders[split]
        files = [folder] if folder.is_file() else list_images(folder)
        if not files:
            raise DataError(f"{folder}: no images found (looked for .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .npy)")
        return AlignedDataset(files, self.direction)
