"""``folder``: single images, for tasks that build the input from the target
(colorization, edges, inpainting, restoration)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from i2i.data import Source, list_images, read_image
from i2i.data.imageio import image_size
from i2i.data.source import FileDataset, require_images, resolve_root, split_folders
from i2i_plugins.sources.aligned import split_halves

Half = Literal["none", "left", "right"]


class FolderDataset(FileDataset):
    """Each file is one target image (or one half of a side-by-side file)."""

    def __init__(self, files: list[Path], root: Path, half: Half):
        super().__init__(files, root)
        self.half = half

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        path = self.files[index]
        image = read_image(path)
        if self.half != "none":
            left, right = split_halves(image, path)
            image = left if self.half == "left" else right
        return {"target": image, "path": str(path)}

    def size_of(self, index: int) -> tuple[int, int]:
        h, w = image_size(self.files[index])
        return (h, w // 2) if self.half != "none" else (h, w)


class FolderSource(Source):
    """Every image under ``root`` (recursively; ``train/``, ``val/``, ``test/`` subfolders when
    present) is a target. ``half = "left"`` or ``"right"`` takes one half of side-by-side
    files (e.g. the photos of the pix2pix edges2shoes set, which sit on the left there)."""

    def __init__(self, root: str, half: Half = "none"):
        self.root = resolve_root(root, "folder")
        self.half = half
        self.folders = split_folders(self.root) if self.root.is_dir() else {"train": self.root}

    def splits(self) -> list[str]:
        return list(self.folders)

    def dataset(self, split: str) -> FolderDataset:
        folder = self.folders[split]
        files = [folder] if folder.is_file() else require_images(list_images(folder), folder)
        return FolderDataset(files, folder if folder.is_dir() else folder.parent, self.half)
