"""Conformance checks of behaviour under failure: 429 with Retry-After, 5xx, timeouts, answers lost
after a write, and secrets kept out of logs and errors whatever the vendor echoes."""

from __future__ import annotations

import logging
import secrets
import traceback
from typing import Any

import pytest

from hub.connector import READ, UPSERT, Connector
from hub.http import MAX_ATTEMPTS
from hub.sandbox import Fault
from hub.testing.base import SuiteBase, requires
from hub.testing.harness import Harness, is_secret, live_ids

RETRY_AFTER = 7.0  # seconds; no backoff of the HTTP layer lands on exactly this


class ResilienceChecks(SuiteBase):
    """What the shared HTTP client promises, checked end to end through the connector."""

    def _stream(self, capability: Any) -> str:
        for spec in self.connector.streams:
            if spec.can(capability) and (self.streams is None or spec.name in self.streams):
                return spec.name
        pytest.skip(f"no stream of {self.connector.name!r} can {capability}")

    def _warm(self, kit: Harness) -> Connector:
        """A connector that already made its first call (an OAuth token fetch, say)."""
        conn = kit.connect()
        assert conn.check().ok
        return conn

    def test_rate_limit_honours_retry_after(self, kit: Harness) -> None:
        stream = self._stream(READ)
        seeded = kit.seed(stream, 3)
        conn = self._warm(kit)
        kit.fake.inject(Fault(429, times=2, retry_after=RETRY_AFTER))
        got = live_ids(kit.read(conn, stream))
        assert set(seeded) <= set(got), f"{stream}: the read after two 429s missed records"
        assert kit.waits.count(RETRY_AFTER) >= 2, (
            f"two 429s with Retry-After: {RETRY_AFTER:g} should wait {RETRY_AFTER:g} s each; waited {kit.waits}"
        )

    @requires(UPSERT)
    def test_rate_limited_write_is_retried_once_written(self, kit: Harness, stream: str) -> None:
        conn = self._warm(kit)
        ops = kit.ops(stream, 2)
        before = kit.vendor_count(stream)
        kit.fake.inject(Fault(429, times=1, retry_after=RETRY_AFTER))
        results = conn.write(stream, ops)
        assert all(r.ok for r in results), f"{stream}: a write after a 429 failed: {results}"
        assert RETRY_AFTER in kit.waits, f"a 429 with Retry-After: {RETRY_AFTER:g} was not waited for: {kit.waits}"
        assert kit.vendor_count(stream) == before + kit.new_records(ops)

    def test_server_errors_are_retried(self, kit: Harness) -> None:
        stream = self._stream(READ)
        seeded = kit.seed(stream, 3)
        conn = self._warm(kit)
        for status in (500, 502, 503):
            kit.fake.inject(Fault(status))
        got = live_ids(kit.read(conn, stream))
        assert set(seeded) <= set(got), f"{stream}: the read after three 5xx answers missed records"
        assert not kit.fake.faults, "the injected 5xx answers were never met"

    def test_timeouts_are_retried(self, kit: Harness) -> None:
        stream = self._stream(READ)
        seeded = kit.seed(stream, 3)
        conn = self._warm(kit)
        kit.transport.timeouts = 2
        got = live_ids(kit.read(conn, stream))
        assert set(seeded) <= set(got), f"{stream}: the read after two timeouts missed records"
        assert kit.transport.timeouts == 0

    @requires(UPSERT)
    def test_lost_answer_to_a_write_creates_no_duplicate(self, kit: Harness, stream: str) -> None:
        """The vendor wrote the batch but its answer never arrived: the retried request must not
        write the records twice (5xx and timeouts are retried, so writes must be idempotent)."""
        conn = self._warm(kit)
        ops = kit.ops(stream, 3)
        before = kit.vendor_count(stream)
        kit.transport.lost = 1
        results = conn.write(stream, ops)
        assert all(r.ok for r in results), f"{stream}: a write whose answer was lost failed: {results}"
        assert kit.transport.lost == 0, "the kit could not lose an answer: the write sent no POST/PUT/PATCH/DELETE"
        assert kit.vendor_count(stream) == before + kit.new_records(ops), (
            f"{stream}: a retried write added {kit.vendor_count(stream) - before} records for {kit.new_records(ops)} new ones"
        )

    def test_secrets_never_reach_logs_or_errors(self, kit: Harness, caplog: pytest.LogCaptureFixture) -> None:
        """Whatever the vendor echoes back -- in an error body, a garbage page, a refused login --
        no secret reaches a log line, an exception, a check message or a write result."""
        caplog.set_level(logging.DEBUG)
        read_stream = self._stream(READ)
        kit.seed(read_stream, 2)
        conn = self._warm(kit)
        sensitive = kit.sensitive(conn)
        echo = " | ".join(sorted(sensitive))
        body = {"error": f"bad request {echo}", "message": f"token {echo}", "description": echo}
        texts: list[str] = []

        def attempt(fn: Any) -> Any:
            try:
                return fn()
            except Exception as exc:  # whatever is raised, its whole text is checked
                texts.append("".join(traceback.format_exception(exc)))
                texts.append(repr(exc) + repr(vars(exc)))
                return None

        for fault in (
            Fault(400, body=body),
            Fault(503, times=MAX_ATTEMPTS + 1, body=body),
            Fault(200, raw=f"<html>proxy error {echo}</html>".encode()),
        ):
            kit.fake.inject(fault)
            attempt(lambda: kit.read(conn, read_stream))
            kit.fake.faults.clear()
        kit.fake.inject(Fault(401, times=MAX_ATTEMPTS + 1, body=body))
        result = attempt(conn.check)
        texts.append(repr(result))
        kit.fake.faults.clear()
        upsert = next((s.name for s in self.connector.streams if s.can(UPSERT)), None)
        if upsert is not None and (self.streams is None or upsert in self.streams):
            kit.fake.inject(Fault(400, times=MAX_ATTEMPTS + 1, body=body))
            texts.append(repr(attempt(lambda: conn.write(upsert, kit.ops(upsert, 1)))))
            kit.fake.faults.clear()
        wrong = {n: f"wrong-{secrets.token_hex(8)}" for n, f in self.connector.Settings.model_fields.items()
                 if is_secret(f.annotation)}
        if wrong:
            refused = kit.connect(**wrong)
            texts.append(repr(attempt(refused.check)))
            attempt(lambda: kit.read(refused, read_stream))
            sensitive |= set(wrong.values())
        logged = [caplog.text, *(repr(r.args) + r.getMessage() for r in caplog.records)]
        everything = "\n".join(texts + logged)
        leaked = sorted(s for s in sensitive if s in everything)
        assert not leaked, (
            f"{len(leaked)} secret(s) reached logs or error text, e.g. {leaked[0][:4]}...: "
            "let every message pass through HttpClient.redact (self.http.redact) and never echo credentials"
        )
