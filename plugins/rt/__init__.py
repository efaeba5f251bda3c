"""Request Tracker 5 plugin: the connector, its sandbox fake (mapping: ``mappings/rt.yaml``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugins import hookimpl
from plugins.rt.connector import RT, RTSettings
from plugins.rt.fake import FakeRT

__all__ = ["RT", "FakeRT", "RTSettings", "hub_register_connectors", "hub_register_sandboxes"]


@hookimpl
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register the Request Tracker connector."""
    register(RT)


@hookimpl
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register the fake RT instance used by ``hub init --sandbox``."""
    register("rt", FakeRT)
