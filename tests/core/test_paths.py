from __future__ import annotations

import pytest

from hub import paths


def test_set_and_get_with_selectors() -> None:
    d: dict = {}
    paths.set_(d, "emails[0].address", "a@example.com")
    paths.set_(d, "phones[type=mobile].number", "+819012345678")
    paths.set_(d, "phones[type=work].number", "+81312345678")
    paths.set_(d, "consents.email.status", "opted_out")
    assert d == {
        "emails": [{"address": "a@example.com"}],
        "phones": [{"type": "mobile", "number": "+819012345678"}, {"type": "work", "number": "+81312345678"}],
        "consents": {"email": {"status": "opted_out"}},
    }
    assert paths.get(d, "phones[type=work].number") == "+81312345678"
    assert paths.get(d, "phones[type=fax].number") is None
    assert paths.get_all(d, "phones[0].number") == ["+819012345678", "+81312345678"]


def test_bad_segment_is_named() -> None:
    with pytest.raises(ValueError, match="bad path segment"):
        paths.parse("emails[0.address")
