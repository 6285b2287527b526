"""The run directory: resolved recipe, metrics log, samples, checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import tomli_w

from i2i.errors import UsageError
from i2i.recipe import Recipe


def choose_run_dir(recipe: Recipe, explicit: bool) -> Path:
    """The run directory named by ``run.out`` (not created yet); never one that holds files.

    The default (``runs/{recipe}``) gets a ``-2``, ``-3``... suffix when taken; an explicit
    ``--out``/``run.out`` that is not empty is refused (use ``--resume`` to continue it).
    """
    base = Path(recipe.run.out.replace("{recipe}", recipe.stem))
    candidate, n = base, 1
    while candidate.exists() and any(candidate.iterdir()):
        if explicit:
            raise UsageError(f"run.out: {str(base)!r} already holds a run; continue it with "
                             f"`i2i run --resume {base}` or choose another --out")
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def create_run_dir(folder: Path) -> Path:
    """Create ``folder`` with its ``checkpoints/`` and ``samples/`` subfolders."""
    for sub in ("checkpoints", "samples"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def write_recipe(recipe: Recipe, folder: Path) -> Path:
    """Write the resolved recipe as ``recipe.toml`` (atomically)."""
    path = folder / "recipe.toml"
    header = (f"# Resolved recipe of this run (from {recipe.path}), every default filled in.\n"
              f"# Re-run it with: i2i run {path}\n\n")
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(header + tomli_w.dumps(recipe.as_dict()))
    os.replace(tmp, path)
    return path


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, flushed as written."""

    def __init__(self, path: Path):
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (a resumed run logs those steps again)."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if record.get("step", 0) <= step:
                kept.append(line)
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """All complete records."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out
