"""Walking a data folder: every folder under it once, and names relative to it."""

from __future__ import annotations

import os
from pathlib import Path


def data_folders(root: Path) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """``root`` and every folder under it, sorted, hidden folders left out; and the folders
    reached a second time (through a symlink, or a symlink loop), each with the first
    path it was read by: they are not read again."""
    visited: dict[str, Path] = {}
    repeats: list[tuple[Path, Path]] = []
    for folder, dirs, _ in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:
            repeats.append((Path(folder), visited[real]))
            dirs[:] = []
            continue
        visited[real] = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(visited.values()), repeats


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX), or its name when it is ``root`` or outside it."""
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        return path.name
    return path.name if relative in ("", ".") else relative
