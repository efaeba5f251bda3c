"""State shared by the phases of one run."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.store.models import DeadLetter

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.config import HubConfig
    from hub.errors import RecordError
    from hub.progress import Progress
    from hub.report import RunReport
    from hub.runtime import Runtime


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    dt = as_utc(dt)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z") if dt else None


@dataclass
class RunContext:
    session: Session
    runtimes: dict[str, Runtime]
    config: HubConfig
    report: RunReport
    progress: Progress
    plan: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    chunk: int = 1000
    all_connectors: bool = True
    failed_connectors: set[str] = field(default_factory=set)
    memo: dict[str, Any] = field(default_factory=dict)  # loaded once per run (the match model)

    @property
    def run_id(self) -> str:
        return self.report.run_id

    def checkpoint(self) -> None:
        """Make everything so far durable (a plan only flushes: it is rolled back at the end)."""
        if self.plan:
            self.session.flush()
        else:
            self.session.commit()

    def dead_letter(self, err: RecordError, *, stage: str, payload: dict[str, Any] | None) -> None:
        """Put one bad record aside with where and why; the run goes on."""
        self.session.add(
            DeadLetter(
                run_id=self.run_id,
                connector=err.connector or "?",
                stream=err.stream or "?",
                source_id=err.source_id,
                field=err.field,
                stage=stage,
                reason=err.reason,
                payload=payload,
            )
        )
        self.report.dead_letters += 1
