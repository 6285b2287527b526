"""Data sources: what a recipe's ``[source]`` names.

A source gives one map-style dataset per split. Samples are dicts of decoded tensors:
``input`` and ``target`` for paired data, ``target`` alone when the task builds the
input, plus ``path`` (a string naming the file, for error messages and outputs).
Datasets may also offer ``relative_paths`` (for grouping), ``groups`` and a cheap
``size_of(index)`` (image size without decoding, for size buckets).
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from i2i.data.imageio import IMAGE_EXTENSIONS, DataError, image_size
from i2i.errors import UsageError
from i2i.messages import say

SPLITS = ("train", "val", "test")
#: The lines :func:`warn_once` and :func:`note_once` printed in this process.
said: set[str] = set()


def warn_once(message: str) -> None:
    """Print ``i2i: warning: MESSAGE`` to stderr, once per process (a source built again for
    the final evaluation does not repeat it)."""
    _say_once("warning", message)


def note_once(message: str) -> None:
    """Print ``i2i: note: MESSAGE`` to stderr, once per process: what the data path did
    that a user should know (slices left out, how a volume was split)."""
    _say_once("note", message)


def _say_once(kind: str, message: str) -> None:
    line = f"i2i: {kind}: {message}"
    if line not in said:
        said.add(line)
        say(line)


class Source:
    """Base class of data sources."""

    def splits(self) -> list[str]:
        """The splits this source has (always ``train``; ``val``/``test`` when present)."""
        return ["train"]

    def training_only(self) -> Dataset | None:
        """Samples that join the training split and are never held out (say, synthetic anatomy
        mixed with real scans); ``None`` by default."""
        return None

    def dataset(self, split: str) -> Dataset:
        """The samples of ``split``."""
        raise NotImplementedError


class FileDataset(Dataset):
    """Base of datasets with one file per sample under a root folder."""

    def __init__(self, files: list[Path], root: Path):
        self.files = files
        self.root = root

    def __len__(self) -> int:
        return len(self.files)

    @property
    def relative_paths(self) -> list[str]:
        return [_relative(f, self.root) for f in self.files]

    def size_of(self, index: int) -> tuple[int, int]:
        """(H, W) of sample ``index`` from the file header."""
        return image_size(self.files[index])


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def resolve_root(root: str | None, source: str) -> Path:
    """``data.root`` as an existing path, or a usage error that says what to set."""
    if root is None:
        raise UsageError(f"data.root: not set; source {source!r} reads files: "
                         "pass --set data.root=PATH (a folder of images)")
    path = Path(root).expanduser()
    if not path.exists():
        raise UsageError(f"data.root: {root!r} does not exist")
    if not (path.is_dir() or path.is_file()):
        raise UsageError(f"data.root: {root!r} is neither a folder nor a regular file (a FIFO, a socket or a "
                         "device?); give the folder or file holding the data")
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


def require_images(files: list[Path], folder: Path) -> list[Path]:
    """``files``, or a data error naming ``folder`` when it holds none."""
    if not files:
        raise DataError(f"{folder}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return files
