"""Progress display: rich bars on a terminal, silence when piped or asked for JSON."""

from __future__ import annotations

import sys
from typing import Any


class _Task:
    def __init__(self, progress: Any = None, task_id: Any = None) -> None:
        self.progress = progress
        self.task_id = task_id

    def advance(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(self.task_id, n)

    def done(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task_id, visible=False)


class Progress:
    """Tasks with a counter; a no-op unless ``enabled``."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._rich: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> Progress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def task(self, description: str, total: int | None = None) -> _Task:
        if self._rich is None:
            return _Task()
        return _Task(self._rich, self._rich.add_task(description, total=total))


QUIET = Progress(enabled=False)
