"""``hub serve``: run the configured schedules in-process.

Ctrl-C (or SIGTERM) asks the running sync to stop after its current batch; the loop then exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from hub.config import Schedule
from hub.engine import Engine
from hub.report import RunReport

log = logging.getLogger(__name__)


def next_runs(schedules: list[Schedule], now: datetime) -> dict[str, datetime]:
    """When each schedule fires next after ``now``."""
    return {s.name: croniter(s.cron, now).get_next(datetime) for s in schedules}


def serve(
    engine: Engine,
    schedules: list[Schedule],
    *,
    on_report: Callable[[Schedule, RunReport], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_runs: int | None = None,
    install_signals: bool = True,
) -> int:
    """Run schedules until stopped; returns how many runs were made."""
    stop = engine.stop
    if install_signals and threading.current_thread() is threading.main_thread():

        def handler(signum: int, _frame: Any) -> None:
            log.warning("signal %s: finishing the current batch, then exiting", signum)
            stop.set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
    due = next_runs(schedules, clock())
    runs = 0
    while not stop.is_set():
        now = clock()
        name, when = min(due.items(), key=lambda kv: kv[1])
        wait = (when - now).total_seconds()
        if wait > 0:
            stop.wait(min(wait, 1.0))
            continue
        sched = next(s for s in schedules if s.name == name)
        report = engine.sync(connectors=sched.connectors, full=sched.full)
        runs += 1
        if on_report:
            on_report(sched, report)
        due[name] = croniter(sched.cron, clock()).get_next(datetime)
        if max_runs is not None and runs >= max_runs:
            break
    return runs
