from __future__ import annotations

import unicodedata

import pytest

from hub.linker import fold_name, identity_keys
from hub.transforms import to_e164


@pytest.mark.parametrize("name", ["山田　太郎", "ＹＡＭＡＤＡ Taro", "Straße", "", None, 0, 12, "ﾔﾏﾀﾞ"])
def test_fold_name_ignores_width_case_and_spaces(name: object) -> None:
    expected = unicodedata.normalize("NFKC", str(name or "")).casefold().replace(" ", "")
    assert fold_name(name) == expected
    assert fold_name(name) == expected  # memoised: the same answer again


def test_identity_keys_of_people_and_organisations() -> None:
    mobile = to_e164("090-1234-5678", "JP")
    person = {
        "id": "e1",
        "emails": [{"address": "taro@example.com"}, {"address": "info@example.com"}, "odd"],
        "phones": [{"number": mobile}, {"number": to_e164("03-1234-5678", "JP")}],
    }
    assert identity_keys("person", person) == [("hub", "e1"), ("email", "taro@example.com"), ("phone", mobile)]
    org = {"name": "ＡＣＭＥ Inc", "domains": ["www.acme.co.jp", "gmail.com"], "identifiers": [{"scheme": "jp_corporate_number", "value": "1234"}]}
    assert identity_keys("organization", org) == [
        ("id:jp_corporate_", "1234"), ("domain", "acme.co.jp"), ("name", "acmeinc"),
    ]
