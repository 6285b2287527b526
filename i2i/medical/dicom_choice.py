"""Which DICOM series a command uses: selected first, then checked.

By default (:class:`SeriesChoice` without ``series``) training, evaluation and prediction
use the CT image series that are original acquisitions. They leave out, with one line per
kind naming the series:

- localizers (scouts, topograms) and secondary captures;
- derived or secondary series and reformats: ImageType ``DERIVED`` or ``SECONDARY`` (an MPR,
  an i2i output), or a coronal, sagittal or oblique orientation (CT acquires axial slices;
  a gantry tilt stays axial). ``include_derived`` uses them;
- series of another modality (MR, PET, US...: their values are not HU) when ``ct_only``;
- series in a transfer syntax that cannot be decoded here (private, or no decoder installed);
- series that cannot become a volume (bad geometry tags, no positions, two slices at one
  place), with the reason.

``series`` names the series to use instead: SeriesInstanceUIDs, SeriesNumbers (an integer
or a string of digits) or globs on SeriesDescription (case-insensitive, e.g. ``"*axial*"``),
one or several. A named series is used even when derived; when it cannot be used (a
localizer, not CT, not a volume) that is an error naming it and why, and so is a name that
matches no series.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from i2i.data.imageio import DataError
from i2i.medical.dicom_read import modality_problem, syntax_problem
from i2i.medical.dicom_series import Series, left_out_line, scan_folder

#: The kinds of series left out by default, in the order their lines are printed, with
#: what each line calls them.
KINDS = {"localizer": "localizer series", "secondary capture": "secondary-capture series",
         "derived": "derived or reformatted series (used with source.include_derived = true, or when named in "
                    "source.series / --series)",
         "not CT": "non-CT series (only CT is read as HU)",
         "undecodable": "series whose pixel data cannot be decoded here",
         "not a volume": "series that cannot be read as a volume"}


@dataclass(frozen=True)
class SeriesChoice:
    """The series to use: ``series`` selectors (empty: the default, see the module doc),
    ``include_derived`` to use derived series and reformats by default too, ``ct_only`` to
    refuse other modalities, and ``given_as``, how the user gave ``series`` (for messages)."""

    series: tuple[str | int, ...] = ()
    include_derived: bool = False
    ct_only: bool = True
    given_as: str = "source.series"

    @classmethod
    def of(cls, series: str | int | Sequence[str | int] | None, **options) -> SeriesChoice:
        """A choice from one selector, several, or None."""
        if series is None:
            selectors: tuple[str | int, ...] = ()
        elif isinstance(series, (str, int)):
            selectors = (series,)
        else:
            selectors = tuple(series)
        return cls(selectors, **options)


@dataclass
class Chosen:
    """The series to use and one line per kind of series left out (:data:`KINDS`)."""

    used: list[Series]
    lines: list[str] = field(default_factory=list)


def matches(series: Series, selector: str | int) -> bool:
    """Whether ``selector`` (a UID, a SeriesNumber, or a SeriesDescription glob) names ``series``."""
    text = str(selector).strip()
    if text == series.uid:
        return True
    if text.isdigit() and series.number is not None:
        return int(text) == series.number
    return bool(series.description) and fnmatch.fnmatchcase(series.description.lower(), text.lower())


def why_not(series: Series, choice: SeriesChoice, named: bool = False) -> tuple[str, str] | None:
    """``(kind, reason)`` when ``series`` is not used (``named``: the user named it), or None."""
    if series.kind != "image":
        return series.kind, f"{series.kind} images, not slices"
    if series.problem is not None:
        return "not a volume", series.problem
    problem = modality_problem(series.head) if choice.ct_only else None
    if problem is not None:
        return "not CT", problem
    problem = syntax_problem(series.head)
    if problem is not None:
        return "undecodable", f"{series.files[0]}: {problem}"
    if series.derived and not (named or choice.include_derived):
        return "derived", f"{series.image_type or 'no ImageType'}, {series.orientation}"
    return None


def choose(found: list[Series], choice: SeriesChoice, where: str) -> Chosen:
    """The series of ``found`` that ``choice`` uses (see the module doc); ``where`` names
    the data in messages."""
    if choice.series:
        return _named(found, choice, where)
    used, skipped = [], {}
    for series in found:
        verdict = why_not(series, choice)
        if verdict is None:
            used.append(series)
        else:
            skipped.setdefault(verdict[0], []).append((series, verdict[1]))
    lines = [f"{where}: left out {len(items)} {KINDS[kind]}: " + "; ".join(_named_reason(s, why) for s, why in items)
             for kind, items in sorted(skipped.items(), key=lambda item: list(KINDS).index(item[0]))]
    return Chosen(used, lines)


def _named(found: list[Series], choice: SeriesChoice, where: str) -> Chosen:
    used: list[Series] = []
    for selector in choice.series:
        hits = [s for s in found if matches(s, selector)]
        if not hits:
            raise DataError(f"{choice.given_as} = {selector!r}: {where}: no series has that SeriesInstanceUID, "
                            f"SeriesNumber or a SeriesDescription matching it; the series there: {listing(found)} "
                            "(i2i series PATH lists them)")
        for series in hits:
            verdict = why_not(series, choice, named=True)
            if verdict is not None:
                raise DataError(f"{choice.given_as} = {selector!r} names {series.label}, which cannot be used: "
                                f"{verdict[1]}")
            if series not in used:
                used.append(series)
    return Chosen(used)


def _named_reason(series: Series, why: str) -> str:
    """``series 4 'COR' (111 images: DERIVED\\SECONDARY, coronal)``; a problem (which names
    its file and series) as it is."""
    if series.problem is not None and why == series.problem:
        return why
    return f"{series.short} ({len(series.files)} image{'s' if len(series.files) != 1 else ''}: {why})"


def listing(found: list[Series]) -> str:
    """The series of ``found``, briefly: number, description, UID, image count."""
    return "; ".join(f"{s.short} ({s.uid}, {len(s.files)} image(s))" for s in found) or "none"


def choose_files(files: Sequence[Path], choice: SeriesChoice, where: str) -> tuple[list[Path], list[str]]:
    """Of the DICOM ``files`` (in any folders), those of the series ``choice`` uses, in their
    given order, and one line per kind of file or series left out (non-image objects,
    copies, images unlike the rest of their series, series left out)."""
    seen: dict[str, Path] = {}
    found: list[Series] = []
    lines: list[str] = []
    given = {Path(f) for f in files}
    for folder in sorted({Path(f).parent for f in files}):
        scan = scan_folder(folder, seen=seen)
        lines += [scan.skipped] if scan.skipped else []
        found += [s for s in scan.series if given & set(s.files) or given & set(s.left_out)]
    chosen = choose(found, choice, where) if found else Chosen([])
    used: set[Path] = set()
    for series in chosen.used:
        used.update(series.files)
        line = left_out_line(series)
        lines += [line] if line else []
    return [f for f in files if Path(f) in used], lines + chosen.lines
