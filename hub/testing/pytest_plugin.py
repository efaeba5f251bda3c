"""pytest plugin of Seamless Hub (entry point ``pytest11``: ``seamless_hub``).

Loaded by pytest wherever the hub is installed; it only adds fixtures (nothing autouse, no hook
that changes how other projects collect or run), for a plugin author's own tests beside the
conformance suite (:func:`hub.testing.connector_test_class`, which needs no fixture from here):

* ``hub_no_sleep``: every wait of the hub's HTTP layer is recorded instead of slept (the retry
  policy itself is untouched); the list of waits is the fixture's value.
* ``hub_kit``: ``hub_kit(Connector, FakeClass, **options)`` gives a
  :class:`~hub.testing.Harness` (a fresh fake, connectors against it, samples from the mapping
  file, guarded reads) with waits recorded in ``harness.waits``; ``options`` as for
  :func:`~hub.testing.connector_test_class`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from hub import http as hub_http

if TYPE_CHECKING:
    from hub.testing.harness import Harness


@pytest.fixture
def hub_no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait of the HTTP layer (retries, Retry-After, request budgets) instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(hub_http, "sleep", waits.append)
    return waits


@pytest.fixture
def hub_kit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    """A factory of conformance-kit harnesses: ``hub_kit(Acme, FakeAcme)``."""
    from hub.testing.harness import Harness
    from hub.testing.suite import connector_test_class

    made: list[Harness] = []

    def make(connector: type, fake: type, **options: Any) -> Harness:
        harness = Harness(connector_test_class(connector, fake, **options)())
        monkeypatch.setattr(hub_http, "sleep", harness.sleep)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
