"""What a run did, as the CLI prints it (``hub sync --json``)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _written() -> dict[str, int]:
    return {"created": 0, "updated": 0, "deleted": 0, "failed": 0}


@dataclass
class PlannedOp:
    """One write the hub would make (``hub plan``) or made."""

    connector: str
    stream: str
    action: str  # create | update | delete | archive
    entity_id: str
    target_id: str | None
    changes: dict[str, list[Any]]  # vendor field -> [old canonical value, new canonical value]


@dataclass
class RunReport:
    run_id: str
    kind: str  # sync | plan
    status: str = "running"  # ok | dead_letters | failed | interrupted
    read: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    streams: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    staged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    written: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(_written))
    entities_created: int = 0
    entities_merged: int = 0
    identity_reviews: int = 0  # pairs newly queued for ``hub identity review``
    entities_updated: int = 0
    conflicts_resolved: int = 0
    dead_letters: int = 0
    errors: list[str] = field(default_factory=list)
    plan: list[PlannedOp] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # where the time went: read (pull and stage), resolve (map, link, golden records), train
    # (the match model's first learning), write (diff, vendor writes, ledger)
    phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the block's wall time to ``phases[name]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] += time.perf_counter() - started

    def count_write(self, connector: str, status: str) -> None:
        self.written[connector][status] += 1

    @property
    def writes(self) -> int:
        """Records written (created + updated + deleted) across connectors."""
        return sum(v["created"] + v["updated"] + v["deleted"] for v in self.written.values())

    def finish(self, interrupted: bool = False) -> None:
        if interrupted:
            self.status = "interrupted"
        elif self.errors:
            self.status = "failed"
        elif self.dead_letters:
            self.status = "dead_letters"
        else:
            self.status = "ok"

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["read"] = dict(self.read)
        out["staged"] = dict(self.staged)
        out["streams"] = {k: dict(v) for k, v in self.streams.items()}
        out["written"] = {k: dict(v) for k, v in self.written.items()}
        out["writes"] = self.writes
        out["phases"] = {k: round(v, 3) for k, v in self.phases.items()}
        if self.kind == "plan":
            out["plan"] = [asdict(op) for op in self.plan]
        else:
            out.pop("plan")
        return out

    @property
    def exit_code(self) -> int:
        """0 ok, 1 finished with dead letters, 3 failed (2 is for usage/config errors)."""
        return {"ok": 0, "dead_letters": 1, "interrupted": 1}.get(self.status, 3)
