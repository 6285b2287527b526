"""What ``i2i series`` lists: every DICOM series under a folder, what its headers say, and
whether i2i uses it (and why not), from the headers alone."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from i2i.data.imageio import DataError
from i2i.medical.dicom_choice import SeriesChoice, matches, why_not
from i2i.medical.dicom_read import is_dicom
from i2i.medical.dicom_series import Order, Series, scan_folder
from i2i.medical.folders import data_folders, relative_name


def series_rows(root: Path, choice: SeriesChoice = SeriesChoice(), order: Order = "position"
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per image series under ``root`` (see :func:`series_row`), and lines on the
    files left out before series were formed (non-image objects, copies: one per folder)
    and on selectors of ``choice`` that name no series."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give the folder holding the DICOM files")
    found: list[Series] = []
    lines: list[str] = []
    seen: dict[str, Path] = {}
    for folder in data_folders(root)[0]:
        if not any(is_dicom(f) for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")):
            continue
        scan = scan_folder(folder, order=order, seen=seen)
        lines += [scan.skipped] if scan.skipped else []
        found += scan.series
    rows = [series_row(series, root, choice) for series in found]
    lines += [f"{choice.given_as} {selector!r} names no series here" for selector in choice.series
              if not any(matches(series, selector) for series in found)]
    return rows, lines


def series_row(series: Series, root: Path, choice: SeriesChoice) -> dict[str, Any]:
    """A series as a row: folder (relative to ``root``), uid, number, description,
    image_type, orientation, modality, images, left_out (images unlike the rest),
    slice_spacing_mm (None without positions), pixel_mm ``[row, column]`` (None without
    PixelSpacing), size ``[rows, columns]``, transfer_syntax (pydicom's keyword, e.g.
    ``JPEGLosslessSV1``) and transfer_syntax_name, body_part, used, why_not."""
    if choice.series and not any(matches(series, s) for s in choice.series):
        verdict: tuple[str, str] | None = ("not named", f"not named by {choice.given_as}")
    else:
        verdict = why_not(series, choice, named=bool(choice.series))
    head = series.head
    pixel = [float(v) for v in series.spacing[1:]]
    return {"folder": relative_name(series.folder, root) if series.folder != root else ".", "uid": series.uid,
            "number": series.number, "description": series.description, "image_type": series.image_type,
            "orientation": series.orientation, "modality": str(head.get("Modality", "") or ""),
            "images": len(series.files), "left_out": len(series.left_out),
            "slice_spacing_mm": float(series.spacing[0]) if series.positions is not None else None,
            "pixel_mm": None if any(math.isnan(v) for v in pixel) else pixel,
            "size": [int(head.get("Rows") or 0), int(head.get("Columns") or 0)],
            "transfer_syntax": series.syntax_keyword, "transfer_syntax_name": series.syntax,
            "body_part": str(head.get("BodyPartExamined", "") or ""), "used": verdict is None,
            "why_not": None if verdict is None else verdict[1] if verdict[0] in ("not a volume", "not named") else
            f"{verdict[0]} ({verdict[1]})"}
