"""The one HTTP client every connector uses.

httpx with an injectable transport (a sandbox fake, a respx router, or the network), tenacity
retries on 429 / 5xx / timeouts that honour ``Retry-After``, a per-account
:class:`RequestBudget` that keeps the hub under the vendor's published limit, and error
messages with every secret redacted.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import tenacity

from hub.errors import AuthError, RateLimitedError, RetriableError, VendorError

if TYPE_CHECKING:
    from hub.connector import RateLimit

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 522, 524})
MAX_ATTEMPTS = 8
MAX_WAIT_SECONDS = 120.0


def sleep(seconds: float) -> None:
    """Every wait of the HTTP layer goes through here (tests patch it to record, not wait)."""
    if seconds > 0:
        time.sleep(seconds)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RequestBudget:
    """A token bucket shared by every client of one vendor account.

    ``acquire()`` blocks until a request may be sent, so the hub stays under the vendor's
    published limit instead of bouncing off it with 429s.
    """

    _shared: dict[str, RequestBudget] = {}
    _shared_lock = threading.Lock()

    def __init__(self, requests: int, per_seconds: float) -> None:
        self.capacity = float(requests)
        self.rate = requests / per_seconds
        self.tokens = float(requests)
        self.updated = time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0

    @classmethod
    def for_limit(cls, limit: RateLimit, account: str | None = None) -> RequestBudget:
        """A budget for ``limit``; the same ``account`` key shares one bucket."""
        if account is None:
            return cls(limit.requests, limit.per_seconds)
        with cls._shared_lock:
            if account not in cls._shared:
                cls._shared[account] = cls(limit.requests, limit.per_seconds)
            return cls._shared[account]

    def acquire(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1.0
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait:
            self.waited += wait
            sleep(wait)


class HttpClient:
    """A vendor HTTP client: retries, budget, redaction, per-vendor response validation.

    Args:
        base_url: the vendor's API root.
        connector: the connector instance name, used in every error.
        headers: default headers (authentication).
        transport: an httpx transport to use instead of the network (sandbox fakes, tests).
        budget: the request budget of the vendor account, if any.
        secrets: plain secret values that must never appear in errors or logs.
        validate: called on every 2xx response; raises for errors hidden in a 200.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connector: str,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | None = None,
        secrets: Sequence[str] = (),
        validate: Callable[[httpx.Response], None] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.connector = connector
        self.budget = budget
        self.secrets = [s for s in secrets if s]
        for value in (headers or {}).values():  # e.g. Basic base64(email/token:secret)
            self._add_secret(value)
        self.validate = validate
        self.requests_sent = 0
        self.client = httpx.Client(
            base_url=base_url,
            headers=headers or {},
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _add_secret(self, header_value: str) -> None:
        bare = header_value.split(" ", 1)[-1]
        if len(bare) >= 8 and bare not in self.secrets:
            self.secrets.append(bare)

    def set_header(self, name: str, value: str) -> None:
        """Change a default header (e.g. after an OAuth token refresh); its value is redacted."""
        self.client.headers[name] = value
        if value:
            self._add_secret(value)

    def request(
        self,
        method: str,
        url: str,
        *,
        stream: str | None = None,
        budget: RequestBudget | None = None,
        retry: bool = True,
        **kw: Any,
    ) -> httpx.Response:
        """Send a request, retrying transient failures; raise a ConnectorError otherwise.

        Args:
            stream: named in errors.
            budget: an extra budget for this endpoint (e.g. a vendor's export limit), drawn on
                every attempt, retries included.
            retry: False for a request that must not be repeated blindly (a create the vendor
                cannot deduplicate): the caller checks what happened and decides.
        """
        if "json" in kw:  # orjson: several times faster than httpx's json.dumps on 100-record batches
            kw["content"] = orjson.dumps(kw.pop("json"), option=orjson.OPT_NON_STR_KEYS)
            kw["headers"] = {**(kw.get("headers") or {}), "Content-Type": "application/json"}
        if not retry:
            return self._send_once(method, url, stream, budget, kw)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetriableError),
            stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
            wait=_wait,
            sleep=lambda s: sleep(s),
            reraise=True,
            before_sleep=self._log_retry,
        )
        # Attempts as a loop, not retrying(fn, ...): a Retrying is a reference cycle, and called
        # with a function it keeps the response as the call's outcome, so every page and its
        # body waited for the cyclic collector (hundreds of MB at a million records).
        for attempt in retrying:
            with attempt:
                response = self._send_once(method, url, stream, budget, kw)
        return response

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def json(self, response: httpx.Response, *, stream: str | None = None) -> Any:
        """Parse a JSON body or raise a VendorError that says what came back instead."""
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass  # perhaps not UTF-8: let httpx detect the encoding
        try:
            return response.json()
        except ValueError:
            snippet = self.redact(response.text[:200])
            raise VendorError(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code} with a body that is not JSON: {snippet!r}",
                connector=self.connector,
                stream=stream,
                status=response.status_code,
            ) from None

    def close(self) -> None:
        self.client.close()

    # -- internals -----------------------------------------------------------------------
    def _send_once(
        self, method: str, url: str, stream: str | None, budget: RequestBudget | None, kw: dict[str, Any]
    ) -> httpx.Response:
        for b in (self.budget, budget):
            if b is not None:
                b.acquire()
        self.requests_sent += 1
        where = {"connector": self.connector, "stream": stream}
        try:
            response = self.client.request(method, url, **kw)
            # httpx binds a read response's stream back to the response: a reference cycle that
            # only the cyclic collector frees, body and all (a page, up to megabytes). The body is
            # read already; a plain stream of it keeps the response freed the moment it is dropped.
            response.stream = httpx.ByteStream(response.content)
        except httpx.TimeoutException as exc:
            raise RetriableError(f"{method} {self._path(url)} timed out ({type(exc).__name__})", **where) from None
        except httpx.TransportError as exc:
            raise RetriableError(f"{method} {self._path(url)} failed: {self.redact(str(exc))}", **where) from None
        status = response.status_code
        if status < 400:
            if self.validate:
                self.validate(response)
            return response
        body = self.redact(response.text)
        message = f"{method} {self._path(url)} -> HTTP {status}: {body[:300]}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            raise RateLimitedError(message, retry_after=retry_after, status=status, body=body, **where)
        if status in RETRY_STATUSES:
            raise RetriableError(message, retry_after=retry_after, status=status, body=body, **where)
        if status in (401, 403):
            raise AuthError(message, status=status, body=body, **where)
        raise VendorError(message, status=status, body=body, **where)

    def _path(self, url: str) -> str:
        return self.redact(httpx.URL(url).path or url)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s (attempt %d, retrying)", exc, state.attempt_number)


def _wait(state: tenacity.RetryCallState) -> float:
    """Wait what the vendor asked for, else exponential backoff with jitter."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetriableError) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_WAIT_SECONDS)
    return _BACKOFF(state)


_BACKOFF = tenacity.wait_random_exponential(multiplier=0.5, max=30.0)
