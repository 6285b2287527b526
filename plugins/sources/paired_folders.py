"""``paired_folders``: inputs and targets in parallel folder trees, matched by path and stem."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

import torch

from i2i.data import DataError, Source, list_images, read_image
from i2i.data.imageio import image_size
from i2i.data.source import SPLITS, FileDataset, resolve_root, warn_once

MAX_LISTED = 10


def pair_files(folder: Path, input_dir: str, target_dir: str) -> tuple[list[tuple[Path, Path]], list[str], list[str]]:
    """Pairs under ``folder``: a file with a path component ``input_dir`` pairs with the file
    whose relative path has that component (its last occurrence) replaced by ``target_dir``
    and the same stem, whatever the extensions (``A/x.png`` with ``B/x.tif``;
    ``P01/t1/003.png`` with ``P01/ct/003.png``). Returns ``(pairs, inputs_alone, targets_alone)``,
    the last two as relative paths."""
    inputs: dict[tuple[str, ...], Path] = {}
    targets: dict[tuple[str, ...], Path] = {}
    for f in list_images(folder):
        parts = PurePosixPath(f.relative_to(folder).as_posix()).with_suffix("").parts
        dirs = parts[:-1]
        for name, table in ((input_dir, inputs), (target_dir, targets)):
            if name in dirs:
                i = len(dirs) - 1 - dirs[::-1].index(name)
                key = parts[:i] + ("\0",) + parts[i + 1:]
                if key in table:
                    raise DataError(f"{folder}: {table[key].name} and {f.name} share the stem {parts[-1]!r} in one "
                                    "folder; a stem must be unique to pair files")
                table[key] = f
    pairs = [(inputs[k], targets[k]) for k in sorted(inputs.keys() & targets.keys())]
    alone_in = [inputs[k].relative_to(folder).as_posix() for k in sorted(inputs.keys() - targets.keys())]
    alone_out = [targets[k].relative_to(folder).as_posix() for k in sorted(targets.keys() - inputs.keys())]
    return pairs, alone_in, alone_out


class PairedFoldersDataset(FileDataset):
    """Sample i reads ``pairs[i] = (input_file, target_file)``; ``relative_paths`` are the
    input files' paths (for ``data.group_pattern``)."""

    def __init__(self, pairs: list[tuple[Path, Path]], root: Path):
        super().__init__([a for a, _ in pairs], root)
        self.pairs = pairs

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        a, b = self.pairs[index]
        return {"input": read_image(a), "target": read_image(b), "path": str(a)}

    def size_of(self, index: int) -> tuple[int, int]:
        return image_size(self.pairs[index][0])


class PairedFoldersSource(Source):
    """Inputs in folders named ``input_dir`` and targets in the parallel folders named
    ``target_dir`` (defaults ``A`` and ``B``) anywhere under ``root``: ``root/A`` and ``root/B``,
    or per subject ``root/P01/t1`` and ``root/P01/ct`` (``input_dir = "t1"``,
    ``target_dir = "ct"``). Splits: ``root/{train,val,test}/...`` or ``root/A/{train,val,test}``
    when present. Files without a partner are listed in the error (``unpaired = "raise"``) or
    left out with a warning (``"skip"``)."""

    def __init__(self, root: str, input_dir: str = "A", target_dir: str = "B",
                 unpaired: Literal["raise", "skip"] = "raise"):
        if input_dir == target_dir:
            raise ValueError(f"input_dir and target_dir must differ, both are {input_dir!r}")
        self.root = resolve_root(root, "paired_folders")
        self.input_dir, self.target_dir = input_dir, target_dir
        self.unpaired = unpaired
        self.folders = self._split_folders()

    def _split_folders(self) -> dict[str, Path]:
        r, a = self.root, self.input_dir
        if (r / "train").is_dir():
            return {s: r / s for s in SPLITS if (r / s).is_dir()}
        if (r / a / "train").is_dir():  # A/train + B/train: pair within root, split by the second level
            return {s: r for s in SPLITS if (r / a / s).is_dir()}
        return {"train": r}

    def splits(self) -> list[str]:
        return list(self.folders)

    def dataset(self, split: str) -> PairedFoldersDataset:
        folder = self.folders[split]
        pairs, alone_in, alone_out = pair_files(folder, self.input_dir, self.target_dir)
        if folder == self.root and (self.root / self.input_dir / split).is_dir():
            marker = f"/{split}/"
            keep = [p for p in pairs if marker in "/" + p[0].relative_to(folder).as_posix()]
            alone_in = [p for p in alone_in if marker in "/" + p]
            alone_out = [p for p in alone_out if marker in "/" + p]
            pairs = keep
        if alone_in or alone_out:
            report = (f"{len(alone_in)} input file(s) have no {self.target_dir!r} partner{_listing(alone_in)}; "
                      f"{len(alone_out)} target file(s) have no {self.input_dir!r} partner{_listing(alone_out)} "
                      f"(under {folder})")
            if self.unpaired == "raise":
                raise DataError(f"{report}. Pair them, or set source.unpaired = \"skip\" to leave them out")
            warn_once(f"leaving out unpaired files: {report}")
        if not pairs:
            raise DataError(f"{folder}: no file pairs: inputs go in folders named {self.input_dir!r}, targets in "
                            f"parallel folders named {self.target_dir!r} with the same file stems")
        return PairedFoldersDataset(pairs, folder)


def _listing(paths: list[str]) -> str:
    if not paths:
        return ""
    more = f", and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
    return " (" + ", ".join(paths[:MAX_LISTED]) + more + ")"
