"""The plugin manager and the typed facade the rest of the hub uses to reach plugins.

Built-in plugins (everything under ``plugins/``) are registered exactly like third-party ones:
through the ``seamless_hub`` entry-point group. A plugin that fails to import or registers
something invalid is reported by name and loading goes on. ``HUB_DISABLE_PLUGINS=a,b`` skips
plugins by name.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from hub import hookspecs
from hub.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from hub.connector import Connector
    from hub.sandbox import FakeVendor
    from hub.transforms import Transform

log = logging.getLogger(__name__)

PROJECT = "seamless_hub"
hookimpl = pluggy.HookimplMarker(PROJECT)

# Built-ins, used when the distribution's entry points are not installed (running from a
# source checkout); the entry points name the same modules.
DEFAULT_PLUGINS = ("plugins.hubspot", "plugins.zendesk", "plugins.salesforce", "plugins.kintone", "plugins.wordpress", "plugins.rt")


@dataclass
class Plugins:
    """What the loaded plugins provide; the engine and CLI use this, never ``pm.hook``."""

    pm: pluggy.PluginManager
    connectors: dict[str, type[Connector]] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    sandboxes: dict[str, type[FakeVendor]] = field(default_factory=dict)
    mapping_dirs: list[Path] = field(default_factory=list)
    errors: list[PluginError] = field(default_factory=list)

    def connector(self, name: str) -> type[Connector]:
        """The connector class registered as ``name``."""
        try:
            return self.connectors[name]
        except KeyError:
            known = ", ".join(sorted(self.connectors)) or "none"
            raise ConfigError(
                f"no connector plugin named {name!r} is installed (installed: {known})"
            ) from None

    def sandbox(self, name: str) -> type[FakeVendor]:
        try:
            return self.sandboxes[name]
        except KeyError:
            known = ", ".join(sorted(self.sandboxes)) or "none"
            raise ConfigError(f"connector {name!r} ships no sandbox fake (sandboxes: {known})") from None


def _entry_points() -> list[tuple[str, str]]:
    found = [(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=PROJECT)]
    names = {value for _, value in found}
    for module in DEFAULT_PLUGINS:
        if module not in names:
            found.append((module.rsplit(".", 1)[-1], module))
    return found


def load(extra: list[Any] | None = None) -> Plugins:
    """Load every plugin and collect what it registers.

    Args:
        extra: plugin objects to register as well (tests, embedding applications).
    """
    from hub import transforms as builtin_transforms

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = {n.strip() for n in os.environ.get("HUB_DISABLE_PLUGINS", "").split(",") if n.strip()}
    result = Plugins(pm)
    pm.register(builtin_transforms, name="hub.transforms")
    for name, value in _entry_points():
        if name in disabled:
            continue
        try:
            module = importlib.import_module(value.split(":")[0])
            pm.register(module, name=name)
        except Exception as exc:  # a broken plugin must not take the hub down
            err = PluginError(name, f"failed to load ({type(exc).__name__}: {exc})")
            log.warning("%s", err)
            result.errors.append(err)
    for i, obj in enumerate(extra or ()):
        pm.register(obj, name=getattr(obj, "__name__", f"extra-{i}"))
    pm.check_pending()
    _collect(result)
    return result


def _collect(result: Plugins) -> None:
    from hub.connector import Connector
    from hub.sandbox import FakeVendor
    from hub.transforms import Transform

    pm = result.pm
    for impl in pm.hook.hub_register_connectors.get_hookimpls():
        def reg_connector(cls: type, _plugin: str = impl.plugin_name) -> None:
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise PluginError(_plugin, f"registered {cls!r}, which is not a Connector subclass")
            for attr in ("name", "kind", "Settings", "streams"):
                if not hasattr(cls, attr):
                    raise PluginError(_plugin, f"connector {cls.__name__} does not set {attr!r}")
            result.connectors[cls.name] = cls

        _call(result, impl, reg_connector)
    for impl in pm.hook.hub_register_transforms.get_hookimpls():
        def reg_transform(t: Any, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(t, Transform):
                raise PluginError(_plugin, f"registered {t!r}, which is not a Transform")
            result.transforms[t.name] = t

        _call(result, impl, reg_transform)
    for impl in pm.hook.hub_register_sandboxes.get_hookimpls():
        def reg_sandbox(name: str, cls: type, _plugin: str = impl.plugin_name) -> None:
            if not (isinstance(cls, type) and issubclass(cls, FakeVendor)):
                raise PluginError(_plugin, f"sandbox {cls!r} is not a FakeVendor subclass")
            result.sandboxes[name] = cls

        _call(result, impl, reg_sandbox)
    for impl in pm.hook.hub_mapping_paths.get_hookimpls():
        try:
            result.mapping_dirs.extend(Path(p) for p in impl.function() or ())
        except Exception as exc:
            result.errors.append(PluginError(impl.plugin_name, f"hub_mapping_paths failed: {exc}"))


def _call(result: Plugins, impl: Any, register: Any) -> None:
    try:
        impl.function(register)
    except PluginError as err:
        log.warning("%s", err)
        result.errors.append(err)
    except Exception as exc:
        err = PluginError(impl.plugin_name, f"{impl.function.__name__} failed ({type(exc).__name__}: {exc})")
        log.warning("%s", err)
        result.errors.append(err)


@lru_cache(maxsize=1)
def default() -> Plugins:
    """The process-wide plugin set (loaded once)."""
    return load()
