"""The run directory: resolved recipe, metrics log, samples, checkpoints."""

from __future__ import annotations

import json
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import tomli_w

from i2i import atomic
from i2i.errors import UsageError
from i2i.recipe import Recipe
from i2i.runs.checkpoint import CheckpointWriter, list_checkpoints
from i2i.runs.lock import LOCK_NAME, RunInUse, holder_of
from i2i.version import __version__

RUN_SUBFOLDERS = ("checkpoints", "samples")
#: Files a run writes at its top level (removed when it restarts from step 0).
RUN_OUTPUTS = ("metrics.jsonl", "eval.json", "eval.csv", "report.html")
#: The marker every run directory gets when its run starts: only a folder holding it is ever
#: restarted (its own files removed), so a folder of the user's is never taken for a run.
RUN_MARKER = ".i2i-run"


def choose_run_dir(recipe: Recipe, explicit: bool) -> Path:
    """The run directory named by ``run.out`` (not created yet); never one that holds a run
    with checkpoints.

    The default (``runs/{recipe}``) gets a ``-2``, ``-3``... suffix when taken. An explicit
    ``--out``/``run.out`` is refused when it is a file, is in use by a live run, holds
    checkpoints (continue it with ``--resume``) or holds files that are no run; a run that
    stopped before its first checkpoint is given back, to be restarted
    (:func:`restart_run_dir`).
    """
    if not recipe.run.out.strip():
        raise UsageError("run.out: empty; give the run directory (--out DIR), or leave it unset for "
                         "runs/{recipe}")
    base = Path(recipe.run.out.replace("{recipe}", recipe.stem))
    candidate, n = base, 1
    while run_files(candidate) or holder_of(candidate) is not None:
        if explicit:
            _refuse_taken(candidate)
            return candidate
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def run_files(folder: Path) -> list[Path]:
    """What ``folder`` holds besides an unused run skeleton (empty ``checkpoints/`` and
    ``samples/``, a lock file): nothing for a new or empty folder."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        return [folder]
    return [p for p in folder.iterdir() if p.name not in (LOCK_NAME, RUN_MARKER)
            and not (p.name in RUN_SUBFOLDERS and p.is_dir() and not any(p.iterdir()))]


def _refuse_taken(folder: Path) -> None:
    """Fail unless ``folder`` may be used: empty but for a stale lock, or a run that stopped
    before its first checkpoint."""
    if not folder.is_dir():
        raise UsageError(f"run.out: {str(folder)!r} is a file, not a folder; choose another --out")
    holder = holder_of(folder)
    if holder is not None:
        raise RunInUse(f"run.out: {str(folder)!r} is in use by {holder.describe()}; wait for it to end or "
                       "choose another --out")
    if not run_files(folder):
        return
    check_layout(folder)
    if list_checkpoints(folder / "checkpoints"):
        raise UsageError(f"run.out: {str(folder)!r} already holds a run; continue it with "
                         f"`i2i run --resume {folder}` or choose another --out")
    if not is_restartable(folder):
        raise UsageError(f"run.out: {str(folder)!r} holds files that are not an i2i run "
                         f"({', '.join(sorted(p.name for p in run_files(folder))[:5])}); choose an empty or new "
                         "folder")


def is_run_dir(folder: Path) -> bool:
    """Whether ``folder`` was made by ``i2i run``: it holds the run marker (:data:`RUN_MARKER`),
    or checkpoints (a run of an i2i from before the marker)."""
    return (folder / RUN_MARKER).is_file() or bool(list_checkpoints(folder / "checkpoints"))


def is_restartable(folder: Path) -> bool:
    """A run directory (:func:`is_run_dir`) whose run stopped before writing its first checkpoint."""
    return ((folder / RUN_MARKER).is_file() and (folder / "recipe.toml").is_file()
            and not list_checkpoints(folder / "checkpoints"))


def check_layout(folder: Path) -> None:
    """Refuse a run directory whose files are something else than i2i writes there (a folder
    where ``eval.json`` goes, a file where ``checkpoints/`` goes), naming it."""
    for name in RUN_SUBFOLDERS:
        path = folder / name
        if (path.exists() or path.is_symlink()) and (path.is_symlink() or not path.is_dir()):
            raise UsageError(f"{path}: is not a folder; i2i keeps the run's {name} there: move it away, or choose "
                             "another --out")
    for name in ("recipe.toml", *RUN_OUTPUTS, "checkpoints/best.json"):
        path = folder / name
        try:
            mode = path.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise UsageError(f"{path}: is {'a folder' if stat.S_ISDIR(mode) else 'not a regular file'}; i2i writes "
                             "its file of that name there: move it away, or choose another --out")


def restart_run_dir(folder: Path) -> list[str]:
    """Clear what a run that stopped before its first checkpoint wrote (``metrics.jsonl``,
    sample grids, temporaries), so it starts again from step 0; returns what was removed.
    Only a run directory (:func:`is_run_dir`) is touched, and only i2i's own files in it;
    call it holding the run's lock."""
    if not (folder / RUN_MARKER).is_file():
        raise UsageError(f"{folder}: not a run directory made by i2i (no {RUN_MARKER} marker in it), so i2i does "
                         "not remove anything there; choose an empty or new folder")
    check_layout(folder)
    removed = []
    own = [folder / name for name in RUN_OUTPUTS] + [folder / "checkpoints" / "best.json"]
    for path in own + sorted((folder / "samples").glob("step_*.png")):
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path.name)
    for temporary in folder.glob(f"{atomic.TEMP_PREFIX}*"):
        if temporary.is_dir() and not temporary.is_symlink():
            shutil.rmtree(temporary, ignore_errors=True)
    if (folder / "checkpoints").is_dir():
        CheckpointWriter(folder / "checkpoints").remove_partial()
    return removed


def create_run_dir(folder: Path) -> Path:
    """Create ``folder`` with its ``checkpoints/`` and ``samples/`` subfolders and the run
    marker (kept when it is there: a resumed run)."""
    check_layout(folder)
    for sub in RUN_SUBFOLDERS:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if not (folder / RUN_MARKER).is_file():
        atomic.write_text(folder / RUN_MARKER, json.dumps({"format": "i2i.run.v1", "i2i_version": __version__,
                                                           "created": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
    return folder


def write_recipe(recipe: Recipe, folder: Path) -> Path:
    """Write the resolved recipe as ``recipe.toml`` (atomically)."""
    path = folder / "recipe.toml"
    header = (f"# Resolved recipe of this run (from {recipe.path}), every default filled in.\n"
              f"# Re-run it with: i2i run {path}\n\n")
    return atomic.write_text(path, header + tomli_w.dumps(recipe.as_dict()))


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, flushed as written."""

    def __init__(self, path: Path):
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (a resumed run logs those steps again)."""
        if not self.path.exists():
            return
        kept = [record for record in self.read() if record.get("step", 0) <= step]
        atomic.write_text(self.path, "".join(json.dumps(record) + "\n" for record in kept))

    def write(self, record: dict[str, Any]) -> None:
        atomic.append_text(self.path, json.dumps(record) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """All complete records (a line cut by a kill is left out); the one reader of
        ``metrics.jsonl`` (the trainer on resume, the report)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out


def read_json(path: Path) -> Any | None:
    """The JSON document at ``path``, or None when it is missing or unreadable (a run's
    ``best.json``, ``eval.json``, ``eval_slices/slices.json`` are optional to their readers)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_best(run_dir: Path) -> dict[str, Any] | None:
    """``checkpoints/best.json`` (``step``, ``metric``, ``value``, ``folder``), or None when the
    run kept no best checkpoint (or the file is unreadable)."""
    best = read_json(Path(run_dir) / "checkpoints" / "best.json")
    return best if isinstance(best, dict) and isinstance(best.get("folder"), str) else None


def write_best(run_dir: Path, best: dict[str, Any]) -> Path:
    """``checkpoints/best.json``: the kept best checkpoint's step, metric and value (atomically)."""
    return atomic.write_text(Path(run_dir) / "checkpoints" / "best.json", json.dumps(best))
