"""A sandbox workspace made the way an admin makes one: ``hub init --sandbox`` and ``hub sandbox seed``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli


@pytest.fixture
def make_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], Path]:
    """Return a function that writes a sandbox workspace seeded with ``people`` per tool."""

    def make(people: int) -> Path:
        monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
        monkeypatch.chdir(tmp_path)
        out = CliRunner().invoke(cli.main, ["init", "--sandbox", str(tmp_path / "ws")])
        assert out.exit_code == 0, out.output
        ws = tmp_path / "ws"
        for tool in ("hubspot", "zendesk"):
            seeded = CliRunner().invoke(cli.main, ["-c", str(ws / "hub.yaml"), "sandbox", "seed", tool, "--people", str(people)])
            assert seeded.exit_code == 0, seeded.output
        return ws

    return make
