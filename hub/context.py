"""State shared by the phases of one run."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
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
    """``2026-11-22T19:08:30.055Z``: the form field timestamps are kept and compared in."""
    return _iso(dt) if dt is not None else None


@lru_cache(maxsize=4096)
def _iso(dt: datetime) -> str | None:
    # records of one page or import share their timestamps: formatting is the cost, not the lookup
    utc = as_utc(dt)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z") if utc else None


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
