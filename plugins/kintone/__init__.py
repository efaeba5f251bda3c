"""The kintone plugin: the connector (one stream per app), its sandbox fake and its mapping
(``mappings/kintone.yaml``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugins import hookimpl
from plugins.kintone.connector import Kintone, KintoneApp, KintoneSettings, kintone_stream
from plugins.kintone.fake import FakeKintone

__all__ = [
    "FakeKintone",
    "Kintone",
    "KintoneApp",
    "KintoneSettings",
    "hub_register_connectors",
    "hub_register_sandboxes",
    "kintone_stream",
]


@hookimpl
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register the kintone connector."""
    register(Kintone)


@hookimpl
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register the fake kintone domain used by ``hub init --sandbox`` and ``hub demo``."""
    register("kintone", FakeKintone)
