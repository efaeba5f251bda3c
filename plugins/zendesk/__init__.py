"""Zendesk Support plugin: the connector, its sandbox fake (mapping: ``mappings/zendesk.yaml``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugins import hookimpl
from plugins.zendesk.connector import Zendesk, ZendeskSettings
from plugins.zendesk.fake import FakeZendesk

__all__ = ["FakeZendesk", "Zendesk", "ZendeskSettings", "hub_register_connectors", "hub_register_sandboxes"]


@hookimpl
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register the Zendesk Support connector."""
    register(Zendesk)


@hookimpl
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register the fake Zendesk account used by ``hub init --sandbox`` and ``hub demo``."""
    register("zendesk", FakeZendesk)
