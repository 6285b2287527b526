"""Data sources: what a recipe's ``data.source`` names.

A source gives one map-style dataset per split. Samples are dicts of decoded tensors:
``input`` and ``target`` for paired data, ``target`` alone when the task builds the
input, plus ``path`` (a string naming the file, for error messages and outputs).
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from i2i.data.imageio import IMAGE_EXTENSIONS
from i2i.errors import UsageError

SPLITS = ("train", "val", "test")


class Source:
    """Base class of data sources."""

    def splits(self) -> list[str]:
        """The splits this source has (always ``train``; ``val``/``test`` when present)."""
        return ["train"]

    def dataset(self, split: str) -> Dataset:
        """The samples of ``split``."""
        raise NotImplementedError


def resolve_root(root: str | None, source: str) -> Path:
    """``data.root`` as an existing path, or a usage error that says what to set."""
    if root is None:
        raise UsageError(f"data.root: not set; source {source!r} reads files: "
                         "pass --set data.root=PATH (a folder of images)")
    path = Path(root).expanduser()
    if not path.exists():
        raise UsageError(f"data.root: {root!r} does not exist")
    return path


def split_folders(root: Path) -> dict[str, Path]:
    """``{split: folder}`` from ``train/``, ``val/``, ``test/`` subfolders, else ``{"train": root}``."""
    found = {s: root / s for s in SPLITS if (root / s).is_dir()}
    return found if "train" in found else {"train": root, **{k: v for k, v in found.items() if k != "train"}}


def list_images(folder: Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted; hidden files skipped."""
    files = [p for p in folder.rglob("*")
             if p.suffix.lower() in extensions and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(files)
