"""The HubSpot plugin: the CRM connector (contacts, companies), its sandbox fake and its mapping."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugins import hookimpl
from plugins.hubspot.connector import HubSpot
from plugins.hubspot.fake import FakeHubSpot

__all__ = ["FakeHubSpot", "HubSpot"]


@hookimpl
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register the HubSpot connector."""
    register(HubSpot)


@hookimpl
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register the HubSpot sandbox fake."""
    register("hubspot", FakeHubSpot)
