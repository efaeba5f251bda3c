"""The connector conformance kit: the standard test battery every connector plugin passes.

One line in a plugin's tests runs it against the plugin's sandbox fake::

    from hub.testing import connector_test_class
    from hub_acme import Acme, FakeAcme

    TestAcme = connector_test_class(Acme, FakeAcme)

It checks ``check``/``discover``, full reads that page and end, incremental reads that resume
with no gap and no duplicate (also when many records share one cursor timestamp), tombstones,
upsert round trips through the mapping file, idempotent re-writes, batch limits, one bad record
failing alone, 429 with Retry-After, 5xx and timeouts retried, and secrets kept out of logs and
errors. What a stream declares (:class:`~hub.connector.Capability`) decides what is checked.

The pytest plugin :mod:`hub.testing.pytest_plugin` (entry point ``pytest11``) adds fixtures for a
plugin's own tests.
"""

from __future__ import annotations

from hub.testing.base import SuiteBase, requires
from hub.testing.harness import Harness
from hub.testing.samples import canonical_sample
from hub.testing.suite import ConnectorSuite, connector_test_class
from hub.testing.transport import KitTransport

__all__ = [
    "ConnectorSuite",
    "Harness",
    "KitTransport",
    "SuiteBase",
    "canonical_sample",
    "connector_test_class",
    "requires",
]
