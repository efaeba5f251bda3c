from __future__ import annotations

import pytest

from hub.transforms import BUILTINS, Context, join_name, normalize_email, split_name, to_e164, to_katakana

T = {t.name: t for t in BUILTINS}
CTX = Context(default_region="JP", value_maps={"stages": {"lead": "lead", "salesqualifiedlead": "sql"}})


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("090-1234-5678", "+819012345678"),
        ("０９０－１２３４－５６７８", "+819012345678"),
        ("(090)1234-5678", "+819012345678"),
        ("+81 90 1234 5678", "+819012345678"),
        ("03-1234-5678", "+81312345678"),
        ("+1 (415) 555-0123 ext. 12", "+14155550123"),
    ],
)
def test_phone_to_e164(raw: str, e164: str) -> None:
    assert to_e164(raw, "JP") == e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        # a Japanese number written at home always starts with the trunk prefix 0: these are
        # North American numbers written without +1, not Japanese ones
        ("303-555-9225", "+13035559225"),
        ("(909) 555-5464", "+19095555464"),
        ("81-3-1234-5678", "+81312345678"),  # the country code without +
        ("0909-555-5464", "+819095555464"),
    ],
)
def test_numbers_not_written_the_japanese_way_are_tried_as_north_american(raw: str, e164: str) -> None:
    assert to_e164(raw, "JP") == e164


def test_phone_region_configurable() -> None:
    assert T["phone"].inbound("(415) 555-0123", {"region": "US"}, CTX) == "+14155550123"
    with pytest.raises(ValueError, match="not a phone number"):
        T["phone"].inbound("call me", None, CTX)


def test_email_normalised_and_checked() -> None:
    assert normalize_email(" Taro.Yamada@Example.CO.JP ") == "taro.yamada@example.co.jp"
    assert normalize_email("ｔａｒｏ@example.jp") == "taro@example.jp"
    with pytest.raises(ValueError):
        normalize_email("not-an-address")


def test_kana_folds_hiragana_and_halfwidth() -> None:
    assert to_katakana("ｻﾄｳ") == "サトウ"
    assert to_katakana("さとう") == "サトウ"
    assert T["kana"].outbound("サトウ", "hiragana", CTX) == "さとう"


def test_names_split_and_join_by_script() -> None:
    assert split_name("山田　太郎") == ("山田", "太郎")
    assert split_name("John Ronald Smith") == ("Smith", "John Ronald")
    assert split_name("Smith John", {"order": "family_first"}) == ("Smith", "John")
    assert split_name("山田太郎") == ("山田太郎", None)
    assert join_name("山田", "太郎") == "山田 太郎"
    assert join_name("Smith", "John") == "John Smith"


def test_value_map_both_ways_and_unknown_values() -> None:
    assert T["value_map"].inbound("salesqualifiedlead", "stages", CTX) == "sql"
    assert T["value_map"].outbound("sql", "stages", CTX) == "salesqualifiedlead"
    with pytest.raises(ValueError, match="not in value map"):
        T["value_map"].inbound("weird", "stages", CTX)
    assert T["value_map"].inbound("weird", {"_default": "other"}, CTX) == "other"


def test_datetime_and_numbers() -> None:
    assert T["datetime"].inbound("2024-05-01T12:00:00Z", None, CTX) == "2024-05-01T12:00:00.000Z"
    assert T["datetime"].inbound("2024-05-01 21:00:00", {"tz": "Asia/Tokyo"}, CTX) == "2024-05-01T12:00:00.000Z"
    assert T["datetime"].inbound(1714564800000, None, CTX) == "2024-05-01T12:00:00.000Z"
    assert T["int"].inbound("１,２００", None, CTX) == 1200
    with pytest.raises(ValueError):
        T["int"].inbound("lots", None, CTX)


def test_consent_flags() -> None:
    assert T["consent"].inbound("true", {"inverted": True}, CTX) == "opted_out"
    assert T["consent"].inbound("false", {"inverted": True}, CTX) == "not_set"
    assert T["consent"].outbound("opted_out", {"inverted": True}, CTX) == "true"
    assert T["consent"].inbound(True, None, CTX) == "opted_in"


def test_none_to_none_transforms_leave_an_empty_value_empty() -> None:
    from hub.transforms import NONE_TO_NONE

    args = [None, "stages", {"inverted": True}, {"tz": "Asia/Tokyo"}, {"region": "US"}, "string", ";"]
    for t in BUILTINS:
        results = {repr(t.inbound(None, arg, CTX)) for arg in args}
        assert (t.inbound in NONE_TO_NONE) == (results == {"None"}), (t.name, results)


def test_kana_memo_returns_what_the_conversion_returns() -> None:
    kana = next(t for t in BUILTINS if t.name == "kana")
    for text in ("やまだ", "ﾔﾏﾀﾞ", " タロウ ", "やまだ"):
        assert kana.inbound(text, None, CTX) == to_katakana(text)
