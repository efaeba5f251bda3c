from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import pytest

import hub
from hub import hookspecs, plugins
from hub.plugins import hookimpl

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_plugins_load_like_third_party_ones() -> None:
    loaded = plugins.load()
    assert {"hubspot", "zendesk"} <= set(loaded.connectors)
    assert {"hubspot", "zendesk"} <= set(loaded.sandboxes)
    assert {"email", "phone", "kana", "name", "value_map"} <= set(loaded.transforms)
    assert loaded.errors == []


def test_broken_plugin_is_reported_by_name_and_loading_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "DEFAULT_PLUGINS", (*plugins.DEFAULT_PLUGINS, "tests_missing_plugin_xyz"))
    bad = types.ModuleType("bad_plugin")

    @hookimpl
    def hub_register_connectors(register):  # type: ignore[no-untyped-def]
        register(object)

    bad.hub_register_connectors = hub_register_connectors  # type: ignore[attr-defined]
    loaded = plugins.load(extra=[bad])
    names = [e.plugin for e in loaded.errors]
    assert "tests_missing_plugin_xyz" in names and "bad_plugin" in names
    assert "hubspot" in loaded.connectors


def test_disable_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "zendesk")
    assert "zendesk" not in plugins.load().connectors


def test_extra_transform_plugin() -> None:
    from hub.transforms import Transform

    mod = types.ModuleType("shout")

    @hookimpl
    def hub_register_transforms(register):  # type: ignore[no-untyped-def]
        register(Transform("shout", lambda v, a, c: v.upper(), lambda v, a, c: v.lower()))

    mod.hub_register_transforms = hub_register_transforms  # type: ignore[attr-defined]
    assert "shout" in plugins.load(extra=[mod]).transforms


def test_every_hook_is_documented_with_its_signature() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("hub_"):
            continue
        sig = f"{name}{inspect.signature(fn)}".replace("'", "")
        assert re.search(re.escape(f"def {sig}"), guide), f"docs/plugins.md lacks `def {sig}`"


def test_public_api_is_sorted() -> None:
    assert hub.__all__ == sorted(hub.__all__)
    for name in hub.__all__:
        assert hasattr(hub, name)
    assert "hub" in sys.modules
