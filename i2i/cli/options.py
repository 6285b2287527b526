"""Options shared by several commands."""

from __future__ import annotations

import click

set_option = click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE",
    help="Override a recipe key (dotted key, TOML value), e.g. --set train.steps=20. Repeatable.")


def loaded_plugins(show_problems: bool = True):
    """The process's plugins; their load errors and warnings are printed once (to stderr)."""
    from i2i.plugins import get_plugins

    plugins = get_plugins()
    if show_problems:
        show_plugin_problems(plugins)
    return plugins


_shown: set[int] = set()


def show_plugin_problems(plugins) -> None:
    """Print each plugin problem of ``plugins`` as a yellow warning, once per process."""
    if id(plugins) in _shown:
        return
    _shown.add(id(plugins))
    for line in plugins.problems():
        click.secho(f"warning: {line}", fg="yellow", err=True)


def series_option(command):
    """``--series`` of ``i2i eval`` and ``i2i predict``: which DICOM series to use."""
    return click.option(
        "--series", "series", multiple=True, metavar="SERIES",
        help="Use only this DICOM series: a SeriesInstanceUID, a SeriesNumber or a glob on SeriesDescription "
             "(repeatable; i2i series PATH lists them; for data read by the recipe's source, this sets "
             "source.series). Default: the CT series that are original acquisitions (no localizers, reformats or "
             "other modalities), one line per kind left out.")(command)


def series_override(series: tuple[str, ...]) -> dict:
    """``--series`` values as the recipe override they are (``source.series``), or nothing."""
    return {"source": {"series": list(series)}} if series else {}


def pair_series_options(command):
    """``--input-series`` / ``--target-series`` of ``i2i eval``: score real pairs of DICOM series."""
    command = click.option(
        "--target-series", "target_series", metavar="SERIES",
        help="With --input-series: the target series of each patient (the full-dose or full reconstruction).")(command)
    return click.option(
        "--input-series", "input_series", metavar="SERIES",
        help="Score real pairs: the input series of each patient in --data (a low-dose or sparse-view "
             "reconstruction: a SeriesInstanceUID, a SeriesNumber or a glob on SeriesDescription), paired slice by "
             "slice by position with --target-series (the ct_pairs source; nothing is simulated).")(command)


def pairs_override(input_series: str | None, target_series: str | None, data_root: str | None,
                   series: tuple[str, ...]) -> dict:
    """``--input-series`` / ``--target-series`` as the recipe override they are (the
    ``ct_pairs`` source), or nothing; a usage error when given without the other, without
    ``--data`` or with ``--series``."""
    if input_series is None and target_series is None:
        return {}
    if input_series is None or target_series is None:
        given, missing = ("--input-series", "--target-series") if target_series is None else \
            ("--target-series", "--input-series")
        raise click.UsageError(f"{given} needs {missing}: real pairs take both series")
    if data_root is None:
        raise click.UsageError("--input-series and --target-series need --data: the folder holding both series")
    if series:
        raise click.UsageError("--series cannot be combined with --input-series / --target-series (they name the "
                               "series to use)")
    return {"source": {"name": "ct_pairs", "input_series": _selector(input_series),
                       "target_series": _selector(target_series)}}


def _selector(text: str) -> str | int:
    """A SeriesNumber as a number, anything else as given."""
    return int(text) if text.strip().isdigit() else text
