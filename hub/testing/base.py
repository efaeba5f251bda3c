"""Configuration, hooks and pytest plumbing shared by every check of the conformance kit.

A suite is configured by class attributes (what :func:`hub.testing.connector_test_class` sets) and
drives the fake through a few hooks with defaults that fit any :class:`~hub.sandbox.FakeVendor`;
override a hook in a subclass only when a fake needs something else.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from hub import http as hub_http
from hub.connector import READ, Capability, Connector
from hub.testing.harness import Harness
from hub.testing.samples import canonical_sample

if TYPE_CHECKING:
    import contextlib

    from hub.mapping import Mapping
    from hub.sandbox import FakeVendor

_REQUIRES = "_hub_requires"


def requires(capability: Capability) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the decorated check once per stream that has ``capability`` (the ``stream`` argument)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, _REQUIRES, capability)
        return fn

    return mark


class SuiteBase:
    """Base of :class:`hub.testing.ConnectorSuite`: configuration, hooks, fixtures.

    Attributes:
        connector: the connector class under test.
        fake: its sandbox fake (a :class:`~hub.sandbox.FakeVendor` subclass).
        fake_options: keyword arguments for the fake (e.g. a knob that makes its pages small).
        settings: connector settings on top of the sandbox ones.
        mapping: the mapping file; None finds ``<connector name>.yaml`` where the hub would.
        streams: the streams to test (None: all of them).
        page_size: records per page the kit asks for, through every ``int`` setting named
            ``page_size`` or ``*_page_size``; reads of a few times as many records must page.
        invalid: per stream, vendor fields that make a record one the vendor refuses (default:
            an invalid email address, for streams that write emails).
        xfail: ``{"test_name": reason}`` or ``{"test_name[stream]": reason}``: known failures,
            strict (the suite fails once they pass, so the mark is removed with the fix).
    """

    connector: ClassVar[type[Connector]]
    fake: ClassVar[type[FakeVendor]]
    fake_options: ClassVar[dict[str, Any]] = {}
    settings: ClassVar[dict[str, Any]] = {}
    mapping: ClassVar[str | Path | None] = None
    streams: ClassVar[Sequence[str] | None] = None
    page_size: ClassVar[int] = 5
    invalid: ClassVar[dict[str, dict[str, Any]]] = {}
    xfail: ClassVar[dict[str, str]] = {}

    _mapping_cache: ClassVar[dict[tuple[type, str], Mapping]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, reason in cls.__dict__.get("xfail", {}).items():
            check = name.split("[", 1)[0]
            fn = getattr(cls, check, None)
            if not (check.startswith("test_") and callable(fn)):
                raise TypeError(f"{cls.__name__}.xfail names {name!r}, which is not a check of the suite")
            if "[" in name:
                continue  # one stream only: marked when the check is parametrized
            setattr(cls, name, pytest.mark.xfail(strict=True, reason=reason)(_copy(fn)))

    # -- pytest plumbing -------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize ``stream`` with the streams that have what the check requires."""
        if "stream" not in metafunc.fixturenames:
            return
        needs: Capability = getattr(metafunc.function, _REQUIRES, READ)
        wanted = self.streams
        params = []
        for spec in self.connector.streams:
            if not spec.can(needs) or (wanted is not None and spec.name not in wanted):
                continue
            reason = self.xfail.get(f"{metafunc.function.__name__}[{spec.name}]")
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(spec.name, id=spec.name, marks=marks))
        if not params:
            missing = " | ".join(c.name or "" for c in Capability if c in needs)
            params = [pytest.param(None, id="none", marks=pytest.mark.skip(
                reason=f"no stream of {self.connector.name!r} can {missing}"))]
        metafunc.parametrize("stream", params)

    @pytest.fixture
    def kit(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
        """A fresh fake and the helpers to drive it; every wait of the HTTP layer is recorded in
        ``kit.waits`` instead of slept (the retry policy itself is untouched)."""
        harness = Harness(self)
        monkeypatch.setattr(hub_http, "sleep", harness.sleep)
        try:
            yield harness
        finally:
            harness.close()

    # -- hooks -----------------------------------------------------------------------------
    def make_fake(self) -> FakeVendor:
        """A brand-new fake account."""
        return self.fake(**self.fake_options)

    def load_mapping(self) -> Mapping:
        """The connector's mapping file, loaded with every installed plugin's transforms."""
        from hub import plugins
        from hub.mapping import find_mapping_file, load_mapping_file, mapping_dirs

        loaded = plugins.default()
        path = Path(self.mapping) if self.mapping else find_mapping_file(
            self.connector.name, mapping_dirs(None, [*_own_mapping_dirs(self.connector), *loaded.mapping_dirs])
        )
        key = (self.connector, str(path))
        if key not in self._mapping_cache:
            mapping, issues = load_mapping_file(path, loaded.transforms, streams=[s.name for s in self.connector.streams])
            if mapping is None or issues:
                raise AssertionError(f"mapping file {path} has errors:\n" + "\n".join(str(i) for i in issues))
            self._mapping_cache[key] = mapping
        return self._mapping_cache[key]

    def canonical_sample(self, stream: str, entity: str, n: int) -> dict[str, Any]:
        """A canonical record to write to ``stream`` (distinct for every ``n``)."""
        return canonical_sample(entity, n)

    def insert(self, fake: FakeVendor, stream: str, fields: dict[str, Any]) -> str:
        """Create a record as a user of the vendor would; returns the id reads report."""
        return fake.insert(stream, fields)

    def update_in_vendor(self, fake: FakeVendor, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a record as a user of the vendor would (its modification timestamp moves on)."""
        fake.update(stream, record_id, fields)

    def delete_in_vendor(self, fake: FakeVendor, stream: str, record_id: str) -> None:
        """Delete a record as a user of the vendor would (streams the connector cannot delete in)."""
        for name in ("delete", "archive"):
            method = getattr(fake, name, None)
            if callable(method):
                method(stream, record_id)
                return
        raise NotImplementedError(f"{type(fake).__name__} has no delete(stream, id): override delete_in_vendor")

    def same_timestamp(self, fake: FakeVendor) -> contextlib.AbstractContextManager[Any]:
        """A context in which every write gets one modification timestamp."""
        return fake.freeze_clock()


def _own_mapping_dirs(connector: type[Connector]) -> list[Path]:
    """The mapping directories the connector's own plugin declares (``hub_mapping_paths`` in the
    package that defines it, or one of its base classes), so the kit finds them before the plugin
    is installed."""
    for cls in connector.__mro__:
        parts = cls.__module__.split(".")
        for i in range(len(parts), 0, -1):
            hook = getattr(sys.modules.get(".".join(parts[:i])), "hub_mapping_paths", None)
            if callable(hook):
                return [Path(p) for p in hook() or ()]
    return []


def _copy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A wrapper of an inherited check, so marking it leaves the base class alone."""

    @functools.wraps(fn)
    def check(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    return check
