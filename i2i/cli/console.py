"""Printing rich tables: wrapped to the terminal's width on a terminal, one line per row
when the output is piped or redirected (where rich would otherwise fold cells to a guessed
80 columns, down to a character per line), so ``i2i summary | grep unet`` finds the row."""

from __future__ import annotations

import sys

#: The width a piped table may take: wide enough that no cell is folded.
PIPED_WIDTH = 10_000


def print_table(table) -> None:
    """Print the rich ``table`` on standard output (see the module's docstring)."""
    from rich.console import Console

    if sys.stdout.isatty():
        Console().print(table)
        return
    console = Console(file=sys.stdout, width=PIPED_WIDTH, no_color=True, soft_wrap=True)
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")
