"""The transport the conformance kit puts between a connector and its sandbox fake.

It passes every request to the fake and keeps it (so the kit can see which credentials went over
the wire), and it injects what a fake's :class:`~hub.sandbox.Fault` cannot: requests that time
out before reaching the vendor, and answers lost after the vendor acted on the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from hub.sandbox import FakeVendor

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Header names that carry credentials whatever the vendor calls them.
_CREDENTIAL_HINTS = ("auth", "token", "key", "secret", "session", "cookie", "password")
_MIN_SECRET = 8  # shorter header values are not worth redacting (nor can the HTTP client)


class KitTransport(httpx.BaseTransport):
    """An httpx transport in front of a fake: records requests, injects timeouts and lost answers.

    Attributes:
        sent: every request, in order.
        timeouts: how many of the next requests time out before reaching the fake.
        lost: how many of the next write requests (POST/PUT/PATCH/DELETE) reach the fake, which
            acts on them, and then time out as if the answer had been lost on the way back.
    """

    def __init__(self, fake: FakeVendor) -> None:
        self.inner = fake.transport()
        self.sent: list[httpx.Request] = []
        self.timeouts = 0
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.timeouts > 0:
            self.timeouts -= 1
            raise httpx.ReadTimeout("injected by the conformance kit: the vendor did not answer", request=request)
        response = self.inner.handle_request(request)
        if self.lost > 0 and request.method in WRITE_METHODS:
            self.lost -= 1
            response.read()
            raise httpx.ReadTimeout("injected by the conformance kit: the answer was lost", request=request)
        return response

    def credentials(self) -> set[str]:
        """Every credential-looking header value sent so far, whole and without its scheme
        (``Bearer abc`` gives ``Bearer abc`` and ``abc``)."""
        found: set[str] = set()
        for request in self.sent:
            for name, value in request.headers.items():
                if not any(hint in name.lower() for hint in _CREDENTIAL_HINTS):
                    continue
                for candidate in (value, value.split(" ", 1)[-1], *value.split(",")):
                    candidate = candidate.strip()
                    if len(candidate) >= _MIN_SECRET:
                        found.add(candidate)
        return found
