"""WordPress plugin: the CMS connector (users, comments), its sandbox fake (mapping: ``mappings/wordpress.yaml``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugins import hookimpl
from plugins.wordpress.connector import WordPress, WordPressSettings
from plugins.wordpress.fake import FakeWordPress

__all__ = ["FakeWordPress", "WordPress", "WordPressSettings", "hub_register_connectors", "hub_register_sandboxes"]


@hookimpl
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register the WordPress connector."""
    register(WordPress)


@hookimpl
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register the fake WordPress site used by ``hub init --sandbox`` and ``hub demo``."""
    register("wordpress", FakeWordPress)
