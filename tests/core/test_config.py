from __future__ import annotations

from pathlib import Path

import pytest

from hub import config
from hub.errors import ConfigError
from hub.templates import SANDBOX, STARTER


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hub.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_starter_file_needs_its_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, STARTER))
    assert "connectors.hubspot.settings.access_token" in str(exc.value)
    assert "HUBSPOT_TOKEN is not set" in str(exc.value)
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-1")
    monkeypatch.setenv("ZENDESK_API_TOKEN", "zd-1")
    ws = config.load(write(tmp_path, STARTER))
    assert ws.config.connectors["hubspot"].settings["access_token"] == "pat-1"
    assert ws.config.connectors["hubspot"].rule("person").create_when[0].at_least == "sql"
    assert ws.config.schedules[0].cron == "*/15 * * * *"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DEFAULT_REGION", "US")
    monkeypatch.setenv("HUB_MASS_DELETE__MAX_COUNT", "7")
    ws = config.load(write(tmp_path, SANDBOX))
    assert ws.config.default_region == "US" and ws.config.mass_delete.max_count == 7


def test_unknown_keys_and_bad_values_are_named(tmp_path: Path) -> None:
    bad = SANDBOX.replace("delete_policy: ignore\n  zendesk", "delete_policy: nuke\n  zendesk").replace(
        "version: 1", "version: 1\nconectors: {}"
    ).replace('cron: "*/5 * * * *"', 'cron: "every day"')
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, bad))
    text = str(exc.value)
    assert "conectors: this key is not known" in text
    assert "connectors.hubspot.delete_policy" in text
    assert "schedules.0.cron" in text and "not a cron expression" in text


def test_disabled_connector_needs_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZENDESK_API_TOKEN", raising=False)
    monkeypatch.setenv("HUBSPOT_TOKEN", "x")
    text = STARTER.replace("type: zendesk\n    enabled: true", "type: zendesk\n    enabled: false")
    ws = config.load(write(tmp_path, text))
    assert list(ws.config.enabled()) == ["hubspot"]


def test_missing_file_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hub init"):
        config.load(tmp_path / "nope.yaml")
