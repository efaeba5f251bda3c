from __future__ import annotations

import pytest

from hub.identity.normalize import (
    detect_name_order,
    detect_prefecture,
    fold_street,
    is_role_address,
    kana_reading,
    name_key,
    normalize_email,
    org_domain,
    org_key,
    parse_email,
    parse_phone,
    postal_code,
    romaji_key,
    split_person_name,
    split_street,
    strip_honorifics,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Taro.Yamada@Example.CO.JP ", "taro.yamada@example.co.jp"),
        ("taro+newsletter@example.jp", "taro@example.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
        ("not an address", None),
    ],
)
def test_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


def test_plus_tag_stripping_is_configurable() -> None:
    assert normalize_email("taro+x@example.jp", strip_plus_tag=False) == "taro+x@example.jp"


@pytest.mark.parametrize("address", ["info@acme.co.jp", "sales@acme.com", "noreply@x.jp", "support.jp@x.jp", "otoiawase@x.jp"])
def test_role_addresses(address: str) -> None:
    assert is_role_address(address)
    assert parse_email(address).role  # type: ignore[union-attr]


def test_personal_address_is_not_role() -> None:
    assert not is_role_address("information.kato@x.jp".replace("information.", "k."))
    assert not parse_email("taro@acme.co.jp").role  # type: ignore[union-attr]


def test_org_domain_excludes_free_mail() -> None:
    assert org_domain("taro@acme.co.jp") == "acme.co.jp"
    assert org_domain("https://www.acme.co.jp/about") == "acme.co.jp"
    assert org_domain("taro@gmail.com") is None
    assert org_domain("hanako@docomo.ne.jp") is None


@pytest.mark.parametrize(
    ("raw", "region", "e164", "mobile"),
    [
        ("090-1357-2468", "JP", "+819013572468", True),
        ("０９０－８８７６－５４３２", "JP", "+819088765432", True),
        ("03-5412-7788 内線 123", "JP", "+81354127788", False),
        ("(415) 555-0199 ext. 7", "US", "+14155550199", True),
        ("+44 20 7946 0958", "JP", "+442079460958", False),
    ],
)
def test_phone(raw: str, region: str, e164: str, mobile: bool) -> None:
    info = parse_phone(raw, region)
    assert info is not None and info.e164 == e164 and not info.placeholder
    assert info.mobile is mobile


@pytest.mark.parametrize("raw", ["000-0000-0000", "090-0000-0000", "090-1234-5678", "03-5555-5555", "0123456789"])
def test_placeholder_phones(raw: str) -> None:
    info = parse_phone(raw, "JP")
    assert info is None or info.placeholder


def test_phone_garbage() -> None:
    assert parse_phone("call me", "JP") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [("髙橋", "高橋"), ("山﨑", "山崎"), ("齋藤", "斎藤"), ("齊藤", "斎藤"), ("渡邊", "渡辺"), ("渡邉", "渡辺"), ("ｻﾄｳ", "サトウ"), ("さとう", "サトウ")],
)
def test_name_variants_fold(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("山田様", "山田"), ("田中 さん", "田中"), ("Mr. John Smith", "John Smith"), ("Dr Jones", "Jones"), ("Yamada-san", "yamada")],
)
def test_honorifics_dropped(raw: str, expected: str) -> None:
    assert strip_honorifics(raw) == expected


@pytest.mark.parametrize(
    "spellings",
    [
        ("サトウ", "さとう", "Sato", "Satou", "Satoh", "Satō"),
        ("ジュンイチロウ", "Junichiro", "Jun'ichirō"),
        ("ホンマ", "Homma", "Honma"),
        ("オオノ", "Ohno", "Ono", "Oono"),
        ("チヒロ", "Chihiro", "Tihiro"),
    ],
)
def test_romaji_meets_kana(spellings: tuple[str, ...]) -> None:
    keys = {romaji_key(s) for s in spellings}
    assert len(keys) == 1 and None not in keys


def test_romaji_key_needs_kana_or_romaji() -> None:
    assert romaji_key("高橋") is None
    assert romaji_key("Smith") is None
    assert kana_reading("タカハシ") == "タカハシ"
    assert kana_reading("高橋") is None


@pytest.mark.parametrize(
    ("raw", "family", "given"),
    [
        ("山田 太郎", "山田", "太郎"),
        ("Taro Yamada", "Yamada", "Taro"),
        ("YAMADA Taro", "YAMADA", "Taro"),
        ("Yamada, Taro", "Yamada", "Taro"),
        ("田中 花子 様", "田中", "花子"),
    ],
)
def test_split_names(raw: str, family: str, given: str) -> None:
    assert split_person_name(raw) == (family, given)


def test_name_order_configurable() -> None:
    assert detect_name_order("Yamada Taro") == "given_first"
    assert split_person_name("Yamada Taro", "family_first") == ("Yamada", "Taro")


@pytest.mark.parametrize(
    "names",
    [
        ("株式会社サンプル", "サンプル㈱", "ｻﾝﾌﾟﾙ(株)", "カ)サンプル"),
        ("Sample Co., Ltd.", "Sample Inc.", "SAMPLE GmbH", "The Sample Company", "Kabushiki Kaisha Sample"),
        ("有限会社 山田商店", "(有)山田商店"),
    ],
)
def test_legal_forms_stripped(names: tuple[str, ...]) -> None:
    assert len({org_key(n) for n in names}) == 1


def test_company_word_kept_inside_a_name() -> None:
    assert org_key("Company of Heroes") == "companyofheroes"


@pytest.mark.parametrize(
    ("raw", "pref"),
    [("東京都", "東京都"), ("東京", "東京都"), ("Tokyo", "東京都"), ("Tōkyō-to", "東京都"), ("Osaka Prefecture", "大阪府"),
     ("神奈川県横浜市西区", "神奈川県"), ("京都市左京区", "京都府"), ("Ooita", "大分県"), ("NSW", None)],
)
def test_prefecture_detection(raw: str, pref: str | None) -> None:
    assert detect_prefecture(raw) == pref


@pytest.mark.parametrize("raw", ["本町1丁目2番地3号", "本町一丁目２－３", "本町1-2-3", "本町１ー２ー３", "本町1丁目2番3号"])
def test_chome_banchi_go_fold(raw: str) -> None:
    assert fold_street(raw) == "本町1-2-3"
    assert split_street(raw) == ("本町", "1-2-3")


def test_postal_codes() -> None:
    assert postal_code("〒100-0001") == "1000001"
    assert postal_code("１００－０００１") == "1000001"
    assert postal_code("sw1a 1aa", "GB") == "SW1A1AA"
