"""The progress display: a rich bar with losses and images/s on a terminal, a plain
line now and then otherwise (CI logs)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from i2i.messages import say


def format_logs(logs: dict[str, Any]) -> str:
    parts = []
    for key, value in logs.items():
        if key.startswith("loss_") or key.startswith("val_"):
            parts.append(f"{key.removeprefix('loss_')} {value:.4g}")
    if "images_per_s" in logs:
        parts.append(f"{logs['images_per_s']:.2f} img/s")
    return "  ".join(parts)


class ProgressDisplay:
    """``with ProgressDisplay(total, start) as p: p.update(step, logs)``."""

    def __init__(self, total: int, start: int, title: str, enabled: bool = True):
        self.total = total
        self.title = title
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.enabled = enabled
        self.every = max(1, total // 20)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[logs]}"),
                                 console=self.console, disable=not self.live)
        self.task = self.progress.add_task(title, total=total, completed=start, logs="")

    def __enter__(self) -> ProgressDisplay:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, step: int, logs: dict[str, Any] | None = None) -> None:
        if logs:
            self.progress.update(self.task, completed=step, logs=format_logs(logs))
            if self.enabled and not self.live and (step % self.every == 0 or step == self.total):
                say(f"{self.title} step {step}/{self.total}  {format_logs(logs)}")
        else:
            self.progress.update(self.task, completed=step)
