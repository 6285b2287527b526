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
