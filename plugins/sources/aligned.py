"""``aligned``: side-by-side A|B images, the pix2pix data layout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from i2i.data import DataError, Source, list_images, read_image
from i2i.data.imageio import image_size
from i2i.data.source import FileDataset, require_images, resolve_root, split_folders, warn_once

#: Files whose shape is checked (from their headers) when a dataset is made.
SHAPE_CHECKED = 1000


def split_halves(image: torch.Tensor, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The left and right halves of a side-by-side image; an odd width is an error."""
    width = image.shape[-1]
    if width % 2:
        raise DataError(f"{path}: width {width} is odd; an aligned A|B image has two halves of equal width")
    return image[..., : width // 2], image[..., width // 2:]


class AlignedDataset(FileDataset):
    """Each file holds A in its left half and B in its right half."""

    def __init__(self, files: list[Path], root: Path, direction: Literal["AtoB", "BtoA"]):
        super().__init__(files, root)
        self.direction = direction

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        path = self.files[index]
        a, b = split_halves(read_image(path), path)
        x, y = (a, b) if self.direction == "AtoB" else (b, a)
        return {"input": x, "target": y, "path": str(path)}

    def size_of(self, index: int) -> tuple[int, int]:
        h, w = image_size(self.files[index])
        return h, w // 2


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
        files = [folder] if folder.is_file() else require_images(list_images(folder), folder)
        warn_not_side_by_side(files[:SHAPE_CHECKED])
        return AlignedDataset(files, folder if folder.is_dir() else folder.parent, self.direction)


def warn_not_side_by_side(files: list[Path]) -> None:
    """Warn (once) about files that are not twice as wide as high: an A|B pair of square
    halves is, and anything else usually means the data are not side-by-side pairs."""
    odd = []
    for path in files:
        try:
            h, w = image_size(path)
        except DataError:
            continue  # reported when the file is read
        if w != 2 * h:
            odd.append(f"{path.name} {w}x{h}")
    if odd:
        more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
        warn_once(f"aligned: {len(odd)} of {len(files)} image(s) checked are not twice as wide as high "
                  f"({', '.join(odd[:3])}{more}); each file should hold A and B side by side (for A/ and B/ "
                  "folders use source.name = \"paired_folders\")")
