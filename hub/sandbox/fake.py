"""Base class of the sandbox fakes.

A fake keeps a vendor's records in memory (optionally persisted to a JSON file so that a
sandbox workspace survives between commands and process kills), answers HTTP requests the way
the vendor documents them, and can inject faults (429 storms, 5xx, garbage) on demand. It is
usable as an httpx transport (:meth:`FakeVendor.transport`) and as an ASGI app served on loopback
(:meth:`FakeVendor.asgi`).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import re
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson

Handler = Callable[..., httpx.Response]

SAVE_EVERY_SECONDS = 1.0  # data-API changes in a burst (seeding) are saved at most this often...
SAVE_TIME_SHARE = 0.02  # ...and no sooner than 50 times as long as the last save took (big states)


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Declare a fake's handler for ``method`` and a path regex (named groups become kwargs)."""

    def mark(fn: Handler) -> Handler:
        fn._route = (method.upper(), re.compile(pattern + r"/?$"))  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class Fault:
    """An injected failure: the next ``times`` matching requests answer ``status``."""

    status: int
    times: int = 1
    retry_after: float | None = None
    body: Any = None
    path_contains: str = ""
    raw: bytes | None = None  # a non-JSON body (vendor answering garbage)


class FakeVendor:
    """Stateful fake of one vendor API. Subclasses define routes and the record shapes."""

    name: ClassVar[str]
    streams: ClassVar[tuple[str, ...]]
    base_url: ClassVar[str]

    def __init__(self, *, state_path: Path | str | None = None, token: str = "sandbox-token") -> None:
        self.state_path = Path(state_path) if state_path else None
        self.token = token
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []
        # the last request bodies, for tests; bounded so a long-running sandbox stays small
        self.bodies: deque[tuple[str, str, Any]] = deque(maxlen=5000)
        self.dirty = False
        self._clock_offset = timedelta(0)
        self._last_now = datetime(2000, 1, 1, tzinfo=UTC)
        self._routes = [
            getattr(self, n)._route + (getattr(self, n),)
            for n in dir(type(self))
            if hasattr(getattr(type(self), n), "_route")
        ]
        self._last_save = -math.inf
        self._save_gap = SAVE_EVERY_SECONDS
        self.state: dict[str, Any] = self.empty_state()
        if self.state_path and self.state_path.exists():
            self.state = orjson.loads(self.state_path.read_bytes())

    # -- to override ---------------------------------------------------------------------
    def empty_state(self) -> dict[str, Any]:
        """The state of a brand-new account."""
        return {"next_id": 1, "records": {s: {} for s in self.streams}}

    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        """Return an error response when the request is not authenticated, else None."""
        return None

    def error(self, status: int, message: str, **extra: Any) -> httpx.Response:
        """A response in the vendor's error shape."""
        return self.json({"error": message, **extra}, status)

    def insert(self, stream: str, fields: dict[str, Any]) -> str:
        """Create a record the way the vendor would (used by seeding); returns its id."""
        raise NotImplementedError

    def update(self, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a record the way the vendor would (used by ``hub sandbox edit``)."""
        raise NotImplementedError

    # -- data access ---------------------------------------------------------------------
    def table(self, stream: str) -> dict[str, dict[str, Any]]:
        return self.state["records"][stream]

    def records(self, stream: str) -> list[dict[str, Any]]:
        """Every record of ``stream`` in vendor shape, oldest id first."""
        with self.lock:
            return [orjson.loads(orjson.dumps(r)) for r in self.table(stream).values()]

    def new_id(self) -> str:
        self.state["next_id"] += 1
        return str(self.state["next_id"] - 1)

    def now(self) -> datetime:
        """The fake's clock: wall time, never going backwards, shiftable (and freezable) by tests."""
        frozen = getattr(self, "_frozen_at", None)
        if frozen is not None:
            return frozen
        now = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        now += self._clock_offset
        if now < self._last_now:
            now = self._last_now
        self._last_now = now
        return now

    def advance_clock(self, seconds: float) -> None:
        self._clock_offset += timedelta(seconds=seconds)

    @contextlib.contextmanager
    def freeze_clock(self) -> Iterator[datetime]:
        """Stop the clock at its current moment for the duration of the ``with`` block.

        Everything written meanwhile gets one timestamp, as a vendor's bulk job gives thousands
        of records one modification time; tests use it to check that incremental reads have no
        gap and no duplicate at such a timestamp. The clock goes on from there afterwards (it
        never goes backwards). Works for every fake whose timestamps come from :meth:`now`.
        """
        with self.lock:
            moment = self.now()
            self._frozen_at: datetime | None = moment
        try:
            yield moment
        finally:
            with self.lock:
                self._frozen_at = None
                self._last_now = max(self._last_now, moment)

    def save(self) -> None:
        """Persist the state atomically (a killed process leaves the old or the new file)."""
        with self.lock:
            _UNSAVED.discard(self)
            if not self.state_path:
                self.dirty = False
                return
            started = time.monotonic()
            data = orjson.dumps(self.state, option=orjson.OPT_NON_STR_KEYS)
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".fake-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.state_path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self.dirty = False
            self._last_save = time.monotonic()
            self._save_gap = max(SAVE_EVERY_SECONDS, (self._last_save - started) / SAVE_TIME_SHARE)

    def save_soon(self) -> None:
        """Persist a change made through the data API: at once, except in a burst (seeding a
        million records must not rewrite the whole file a million times). A deferred save
        happens on the next change after the back-off, on the next HTTP request (answered only
        once saved), on :meth:`save`, or at exit."""
        self.dirty = True
        if not self.state_path:
            self.dirty = False
            return
        if time.monotonic() - self._last_save >= self._save_gap:
            self.save()
        else:
            _UNSAVED.add(self)

    def mutated(self) -> None:
        """Handlers call this after changing state; the state is saved before the response."""
        self.dirty = True

    # -- HTTP ----------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Make the next matching request(s) fail."""
        with self.lock:
            self.faults.append(fault)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request the way the vendor would."""
        with self.lock:
            response = self._handle(request)
            if self.dirty:
                self.save()
            self.requests.append((request.method, request.url.path, response.status_code))
            if len(self.requests) > 200_000:
                del self.requests[:100_000]
            return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for fault in self.faults:
            if fault.path_contains in path and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                if fault.raw is not None:
                    return httpx.Response(fault.status, content=fault.raw, headers=headers)
                body = fault.body if fault.body is not None else {"error": f"injected HTTP {fault.status}"}
                return httpx.Response(fault.status, json=body, headers=headers)
        denied = self.authorize(request)
        if denied is not None:
            return denied
        body: Any = None
        if request.content:
            try:
                body = orjson.loads(request.content)
            except ValueError:
                return self.error(400, "request body is not valid JSON")
        self.bodies.append((request.method, path, body))
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            return handler(request, body, **match.groupdict())
        return self.error(405 if allowed else 404, f"no route for {request.method} {path}")

    @staticmethod
    def json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(
            status,
            content=orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS),
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    def transport(self) -> httpx.MockTransport:
        """This fake as an httpx transport."""
        return httpx.MockTransport(self.handle)

    def asgi(self) -> Callable[..., Any]:
        """This fake as an ASGI app (serve it with uvicorn on 127.0.0.1)."""
        fake = self

        async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            url = httpx.URL(
                scheme=scope.get("scheme", "http"),
                host=(scope.get("server") or ("127.0.0.1", 80))[0],
                port=(scope.get("server") or ("127.0.0.1", 80))[1],
                path=scope["path"],
                query=scope.get("query_string", b""),
            )
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            request = httpx.Request(scope["method"], url, headers=headers, content=body)
            response = fake.handle(request)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": response.content})

        return app


def sandbox_settings(fake: FakeVendor) -> dict[str, Any]:
    """Connector settings that point at ``fake`` (a fake may add what its vendor needs)."""
    extra = getattr(fake, "extra_settings", None)
    return {"base_url": fake.base_url, **(extra() if callable(extra) else {})}


# Fakes with data-API changes not yet saved (see FakeVendor.save_soon): saved at exit.
_UNSAVED: weakref.WeakSet[FakeVendor] = weakref.WeakSet()


@atexit.register
def _save_unsaved() -> None:
    for fake in list(_UNSAVED):
        if fake.dirty:
            fake.save()
