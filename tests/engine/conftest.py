"""A sandbox workspace with in-memory HubSpot and Zendesk fakes and an engine over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub import config, plugins
from hub.engine import Engine
from hub.store import Store
from hub.templates import SANDBOX


@dataclass
class Hub:
    root: Path
    engine: Engine
    store: Store
    hubspot: Any
    zendesk: Any

    def sync(self, **kw: Any) -> Any:
        return self.engine.sync(**kw)

    def reconfigure(self, yaml_text: str) -> None:
        (self.root / "hub.yaml").write_text(yaml_text, encoding="utf-8")
        self.engine.workspace = config.load(self.root / "hub.yaml")


@pytest.fixture
def hub(tmp_path: Path, db_url: str) -> Iterator[Hub]:
    (tmp_path / "hub.yaml").write_text(SANDBOX, encoding="utf-8")
    ws = config.load(tmp_path / "hub.yaml")
    loaded = plugins.default()
    fakes = {name: loaded.sandbox(name)() for name in ("hubspot", "zendesk")}
    store = Store(db_url)
    engine = Engine(ws, store, loaded, fakes=fakes)
    yield Hub(tmp_path, engine, store, fakes["hubspot"], fakes["zendesk"])
    store.dispose()
