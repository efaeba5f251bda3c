"""Fixtures of the identity tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.identity.builders import background


@pytest.fixture
def population() -> list[dict[str, Any]]:
    """Background records seen in two tools (fresh per test), so that EM has pairs to learn from."""
    return background()
