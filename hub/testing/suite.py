"""The conformance suite: every standard check, and the one-line way to get them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.testing.contract import ContractChecks
from hub.testing.reads import ReadChecks
from hub.testing.resilience import ResilienceChecks
from hub.testing.writes import WriteChecks

if TYPE_CHECKING:
    from hub.connector import Connector
    from hub.sandbox import FakeVendor


class ConnectorSuite(ContractChecks, ReadChecks, WriteChecks, ResilienceChecks):
    """The standard battery of checks every connector passes against its sandbox fake.

    Subclass it with a name pytest collects (``Test...``) and set at least ``connector`` and
    ``fake``; see :class:`hub.testing.base.SuiteBase` for the other attributes and the hooks.
    :func:`connector_test_class` does the same in one line.
    """


def connector_test_class(
    connector: type[Connector],
    fake: type[FakeVendor],
    *,
    fake_options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    mapping: str | Path | None = None,
    streams: Sequence[str] | None = None,
    page_size: int | None = None,
    invalid: dict[str, dict[str, Any]] | None = None,
    xfail: dict[str, str] | None = None,
) -> type[ConnectorSuite]:
    """The conformance suite for ``connector``, as a test class to assign to a ``Test*`` name::

        TestAcme = connector_test_class(Acme, FakeAcme)

    Args:
        connector: the connector class.
        fake: its sandbox fake class.
        fake_options: keyword arguments for the fake.
        settings: connector settings on top of the sandbox ones.
        mapping: the mapping file (default: ``<name>.yaml`` where the hub finds mapping files).
        streams: only these streams (default: every stream).
        page_size: records per page the kit asks for (default 5).
        invalid: per stream, vendor fields of a record the vendor refuses.
        xfail: known failures, ``{"test_name" or "test_name[stream]": reason}`` (strict).
    """
    attrs: dict[str, Any] = {"connector": connector, "fake": fake, "__module__": _caller_module()}
    for name, value in (("fake_options", fake_options), ("settings", settings), ("mapping", mapping),
                        ("streams", tuple(streams) if streams is not None else None),
                        ("page_size", page_size), ("invalid", invalid), ("xfail", xfail)):
        if value is not None:
            attrs[name] = value
    title = re.sub(r"\W", "", connector.__name__) or "Connector"
    return type(f"Test{title}Conformance", (ConnectorSuite,), attrs)


def _caller_module() -> str:
    import sys

    return sys._getframe(2).f_globals.get("__name__", __name__)
