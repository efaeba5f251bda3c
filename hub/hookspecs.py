"""Every hook a Seamless Hub plugin can implement.

A plugin is a module (or object) registered under the ``seamless_hub`` entry-point group whose
functions are decorated with ``@hub.hookimpl``. Built-in plugins under ``plugins/`` are loaded
exactly the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("seamless_hub")


@hookspec
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register connector classes.

    Called once when the plugin manager loads. Call ``register(ConnectorClass)`` for each
    :class:`hub.connector.Connector` subclass the plugin provides; the class must set ``name``,
    ``kind``, ``Settings`` and ``streams``. Return nothing.
    """


@hookspec
def hub_register_transforms(register: Callable[[Any], None]) -> None:
    """Register mapping transforms.

    Called once when the plugin manager loads. Call ``register(Transform(name, inbound,
    outbound))`` (see :class:`hub.transforms.Transform`) for each named transform the plugin
    provides; mappings then use it by name. Return nothing.
    """


@hookspec
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register sandbox fakes of vendor APIs.

    Called once when the plugin manager loads. Call ``register(connector_name, FakeClass)``
    where ``FakeClass`` subclasses :class:`hub.sandbox.FakeVendor`; ``hub init --sandbox`` and
    ``hub demo`` then run that connector against the fake. Return nothing.
    """


@hookspec
def hub_mapping_paths() -> list[str]:
    """Return directories that hold this plugin's mapping files (``<connector>.yaml``).

    Called when mappings are loaded; the workspace's own ``mappings/`` directory takes
    precedence over plugin directories, which take precedence over the built-in ones.
    """
