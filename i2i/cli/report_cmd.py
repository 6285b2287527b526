"""``i2i report``."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Page to write (default: RUN_DIR/report.html).")
def report(run_dir: str, out_file: str | None) -> None:
    """(Re)build RUN_DIR/report.html: final metrics (eval.json, model and input baseline),
    loss and metric curves, input | output | target grids at several steps, the model
    summary and the recipe, in one self-contained page that opens offline."""
    from i2i.report.page import write_report

    click.echo(write_report(run_dir, out_file))
