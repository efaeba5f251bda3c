"""The sync engine: pull → stage → map → link → golden record → per-tool diff → write → ledger.

The same :class:`Engine` serves ``hub sync``, ``hub plan``, the scheduler and (later)
distributed workers. It reaches connectors only through the plugin manager (via
:mod:`hub.runtime`) and never prints: the CLI renders its :class:`~hub.report.RunReport`.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hub import outbound, runtime
from hub.connector import READ
from hub.context import RunContext
from hub.errors import ConnectorError, MassDeleteError
from hub.processing import process_pending, train, train_if_due
from hub.progress import QUIET, Progress
from hub.readahead import read_ahead
from hub.report import RunReport
from hub.staging import load_cursor, save_cursor, stage
from hub.store.models import Run, utcnow

if TYPE_CHECKING:
    from hub.config import Workspace
    from hub.plugins import Plugins
    from hub.runtime import Runtime
    from hub.sandbox import FakeVendor
    from hub.store import Store

log = logging.getLogger(__name__)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run a sync with the cyclic garbage collector triggered far less often.

    A sync allocates millions of short-lived dicts (records, rows, JSON values) that reference
    counting frees at once; with the default thresholds the collector still ran every 700
    allocations and walked the young objects each time, which cost a quarter of a sync's CPU.
    Objects alive before the run (modules, plugins, mappings) are frozen out of its scans.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        # the run's own cycles (only its objects are scanned: the rest is still frozen), so that
        # the next run does not freeze them with the living and keep them for its whole length
        gc.collect()
        gc.unfreeze()


class Engine:
    """Runs syncs and plans for one workspace.

    Args:
        workspace: the loaded ``hub.yaml`` and its directory.
        store: the state store.
        plugins: the loaded plugins.
        fakes: sandbox fakes to use for sandbox connectors (tests, benchmarks, the demo).
    """

    def __init__(
        self,
        workspace: Workspace,
        store: Store,
        plugins: Plugins,
        *,
        fakes: dict[str, FakeVendor] | None = None,
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.plugins = plugins
        self.fakes = fakes
        self.stop = threading.Event()

    def runtimes(self, only: list[str] | None = None) -> dict[str, Runtime]:
        return runtime.build(self.workspace, self.plugins, only=only, fakes=self.fakes)

    def sync(
        self,
        *,
        connectors: list[str] | None = None,
        full: bool = False,
        plan: bool = False,
        pull: bool = True,
        allow_mass_delete: bool = False,
        progress: Progress | None = None,
    ) -> RunReport:
        """Run one sync (or, with ``plan=True``, compute it and write nothing anywhere)."""
        with fewer_collections(), self.store.background_checkpoints():
            return self._sync(connectors=connectors, full=full, plan=plan, pull=pull, allow_mass_delete=allow_mass_delete, progress=progress)

    def _sync(
        self,
        *,
        connectors: list[str] | None,
        full: bool,
        plan: bool,
        pull: bool,
        allow_mass_delete: bool,
        progress: Progress | None,
    ) -> RunReport:
        started = time.perf_counter()
        runtimes = self.runtimes(connectors)
        report = RunReport(run_id=uuid.uuid4().hex, kind="plan" if plan else "sync")
        session = self.store.session()
        ctx = RunContext(
            session=session,
            runtimes=runtimes,
            config=self.workspace.config,
            report=report,
            progress=progress or QUIET,
            plan=plan,
            stop=self.stop,
            chunk=self.workspace.config.batch_size,
            all_connectors=set(runtimes) == set(self.workspace.config.enabled()),
        )
        for name in runtimes:  # every connector appears in the report, zeros included
            report.read[name] += 0
            report.written[name]["created"] += 0
        if not plan:
            session.add(Run(id=report.run_id, kind="sync", status="running", started_at=utcnow(), stats={}))
            session.commit()
        try:
            if pull:
                for rt in runtimes.values():
                    with report.phase("read"):
                        self._pull(ctx, rt, full)
            by_entity: dict[str, list[tuple[str, str]]] = {}
            for rt in runtimes.values():
                for stream, smap in rt.streams():
                    if rt.readable(smap):
                        by_entity.setdefault(smap.entity, []).append((rt.name, stream.name))
            for entity in runtime.ENTITY_ORDER:
                with report.phase("resolve"):
                    process_pending(ctx, entity, by_entity.get(entity, []))
                if entity == "person" and by_entity.get(entity):
                    with report.phase("train"):
                        train_if_due(ctx)
            if not self.stop.is_set():
                with report.phase("write"):
                    outbound.run(ctx, allow_mass_delete=allow_mass_delete)
        except MassDeleteError as err:
            session.rollback() if plan else session.commit()
            report.errors.append(str(err))
        except BaseException:
            session.rollback()
            report.errors.append("the run was interrupted")
            self._finish(ctx, started, interrupted=True)
            raise
        self._finish(ctx, started, interrupted=self.stop.is_set())
        return report

    @contextmanager
    def manual(self) -> Iterator[RunContext]:
        """A context for an admin's identity decision (no connectors): one transaction,
        committed when the block ends without an error. The next sync writes its consequences."""
        session = self.store.session()
        report = RunReport(run_id=uuid.uuid4().hex, kind="manual")
        ctx = RunContext(session=session, runtimes={}, config=self.workspace.config, report=report, progress=QUIET)
        try:
            yield ctx
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def train_identity(self) -> dict[str, int]:
        """Relearn the match model on every person in the store and apply its decisions."""
        with fewer_collections(), self.manual() as ctx:
            return train(ctx)

    def _pull(self, ctx: RunContext, rt: Runtime, full: bool) -> None:
        for stream, smap in rt.streams():
            if not rt.readable(smap) or not stream.can(READ) or ctx.stop.is_set():
                continue
            state = None if full else load_cursor(ctx.session, rt.name, stream.name)
            task = ctx.progress.task(f"read {rt.name}/{stream.name}")
            uncommitted = 0
            try:
                for page in read_ahead(rt.connector.read(stream.name, state)):
                    changed = stage(ctx.session, rt.name, stream.name, page.records, ctx.run_id)
                    save_cursor(ctx.session, rt.name, stream.name, page.state)
                    # records and the cursor after them land together, a chunk's worth at a time
                    # (a commit per 100-record page cost more than staging the page)
                    uncommitted += len(page.records)
                    if uncommitted >= ctx.chunk:
                        ctx.checkpoint()
                        uncommitted = 0
                    ctx.report.read[rt.name] += len(page.records)
                    ctx.report.streams[f"{rt.name}/{stream.name}"]["read"] += len(page.records)
                    ctx.report.staged[rt.name] += changed
                    task.advance(len(page.records))
                    if ctx.stop.is_set():
                        break
                ctx.checkpoint()
            except ConnectorError as err:
                ctx.checkpoint()  # the pages read before the failure are staged, their cursor with them
                ctx.report.errors.append(str(err))
                ctx.failed_connectors.add(rt.name)
                log.error("%s", err)
                return
            finally:
                task.done()

    def _finish(self, ctx: RunContext, started: float, *, interrupted: bool) -> None:
        report = ctx.report
        report.seconds = round(time.perf_counter() - started, 3)
        report.requests = {name: rt._connector.http.requests_sent for name, rt in ctx.runtimes.items() if rt._connector}
        report.finish(interrupted=interrupted)
        for rt in ctx.runtimes.values():
            rt.close()
        session = ctx.session
        if ctx.plan:
            session.rollback()
        else:
            run = session.get(Run, report.run_id)
            if run is not None:
                run.status = report.status
                run.finished_at = utcnow()
                run.stats = report.to_dict()
                run.error = "\n".join(report.errors) or None
            session.commit()
        session.close()
