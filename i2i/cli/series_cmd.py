"""``i2i series``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from i2i.data.imageio import DataError
from i2i.errors import UsageError
from i2i.medical.dicom_choice import SeriesChoice
from i2i.medical.dicom_listing import series_rows

#: The text table's columns: heading and how a row shows in it.
COLUMNS = (
    ("number", lambda r: "" if r["number"] is None else str(r["number"])),
    ("uid", lambda r: r["uid"] or "-"),
    ("description", lambda r: r["description"] or "-"),
    ("image type", lambda r: r["image_type"] or "-"),
    ("orientation", lambda r: r["orientation"]),
    ("images", lambda r: str(r["images"]) + (f" (+{r['left_out']} unlike)" if r["left_out"] else "")),
    ("slice mm", lambda r: "-" if r["slice_spacing_mm"] is None else f"{r['slice_spacing_mm']:.3g}"),
    ("pixel mm", lambda r: "unknown" if r["pixel_mm"] is None else
        "x".join(f"{v:.3g}" for v in r["pixel_mm"]) + f" ({r['size'][0]}x{r['size'][1]})"),
    ("transfer syntax", lambda r: r["transfer_syntax"]),
    ("used", lambda r: "yes" if r["used"] else f"no: {r['why_not']}"),
)


@click.command("series")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--series", "series", multiple=True, metavar="SERIES",
              help="Say which series this choice would use: a SeriesInstanceUID, a SeriesNumber or a glob on "
                   "SeriesDescription (repeatable), as source.series and --series of eval and predict take it.")
@click.option("--include-derived", is_flag=True,
              help="As source.include_derived = true: derived series and reformats are used too.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list with one object per series.")
def series_command(path: str, series: tuple[str, ...], include_derived: bool, as_json: bool) -> None:
    """List the DICOM series under PATH (every folder below it) from their headers: number,
    SeriesInstanceUID, description, ImageType, orientation, image count, slice spacing, pixel
    size, transfer syntax, and whether i2i run, eval and predict use it, or why not.

    \b
    By default i2i uses the CT series that are original acquisitions; it leaves out
    localizers, secondary captures, derived series and reformats (source.include_derived
    = true uses them), other modalities, and series that cannot become a volume. Images
    unlike the rest of their series (another orientation or size) are left out of it.
    """
    choice = SeriesChoice.of(series or None, include_derived=include_derived, given_as="--series")
    try:
        rows, lines = series_rows(Path(path), choice)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if not rows:
        raise UsageError(f"{path}: no DICOM image series under it (files are recognised by their 'DICM' marker)"
                         + (f"; {' '.join(lines)}" if lines else ""))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for line in lines:
        click.echo(f"note: {line}", err=True)
    for folder in dict.fromkeys(r["folder"] for r in rows):
        here = [r for r in rows if r["folder"] == folder]
        click.echo(f"{Path(path) / folder if folder != '.' else path}: {len(here)} series, "
                   f"{sum(r['used'] for r in here)} used")
        click.echo("\n".join(_table(here)))


def _table(rows: list[dict]) -> list[str]:
    """The rows as aligned text, one line each under a heading line."""
    cells = [[name for name, _ in COLUMNS]] + [[show(r) for _, show in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
