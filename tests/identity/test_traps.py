"""The Japanese-customer traps the resolver must not fall into (and the matches it must make)."""

from __future__ import annotations

from typing import Any

from hub.identity import resolve

from tests.identity.builders import person


def _resolve(population: list[dict[str, Any]], *records: dict[str, Any]) -> Any:
    return resolve([*population, *records])


def test_same_name_in_different_companies_not_linked(population: list[dict[str, Any]]) -> None:
    res = _resolve(
        population,
        person("hs", "1", family_name="佐藤", given_name="太郎", family_name_kana="サトウ", given_name_kana="タロウ",
               organization_name="株式会社アルファ", email="taro.sato@alpha.co.jp", phone="03-5412-7788"),
        person("sf", "1", family_name="佐藤", given_name="太郎", family_name_kana="サトウ", given_name_kana="タロウ",
               organization_name="ベータ商事㈱", email="t-sato@beta.jp", phone="06-6345-2211"),
    )
    assert res.entity_of["hs:1"] != res.entity_of["sf:1"]


def test_family_sharing_landline_and_address_not_linked(population: list[dict[str, Any]]) -> None:
    home = {"postal_code": "220-0012", "region": "神奈川県", "locality": "横浜市西区", "street": "みなとみらい2丁目3番1号"}
    res = _resolve(
        population,
        person("hs", "2", family_name="山田", given_name="花子", phone="045-881-2345", address=home),
        person("zd", "2", family_name="山田", given_name="一郎", phone="045-881-2345", address=dict(home, postal_code="2200012", street="みなとみらい2-3-1")),
    )
    assert res.entity_of["hs:2"] != res.entity_of["zd:2"]
    assert "given names differ" in res.explain("hs:2", "zd:2")["probabilistic"]["guard"]


def test_colleagues_on_one_main_line_and_role_mailbox_not_linked(population: list[dict[str, Any]]) -> None:
    res = _resolve(
        population,
        person("hs", "3", family_name="鈴木", given_name="健一", organization_name="ガンマ株式会社", email="info@gamma.co.jp", phone="03-6222-1000"),
        person("zd", "3", family_name="高田", given_name="美咲", organization_name="(株)ガンマ", email="info@gamma.co.jp", phone="03-6222-1000"),
    )
    assert res.entity_of["hs:3"] != res.entity_of["zd:3"]


def test_role_mailbox_never_links_alone(population: list[dict[str, Any]]) -> None:
    res = _resolve(
        population,
        person("hs", "r1", family_name="井上", email="info@omega.jp"),
        person("zd", "r1", email="INFO@omega.jp"),
    )
    assert res.entity_of["hs:r1"] != res.entity_of["zd:r1"]
    assert not any(link.value == "info@omega.jp" for link in res.links())


def test_variant_kanji_kana_and_romaji_linked(population: list[dict[str, Any]]) -> None:
    office = {"postal_code": "100-0005", "locality": "千代田区"}
    res = _resolve(
        population,
        person("hs", "4", family_name="髙橋", given_name="誠", family_name_kana="タカハシ", given_name_kana="マコト", email="m.takahashi@delta.jp", address=office),
        person("sf", "4", family_name="Takahashi", given_name="Makoto", email="M.Takahashi@delta.jp ", address=dict(office, postal_code="1000005")),
        person("zd", "4", family_name="高橋", given_name="誠", family_name_kana="たかはし", given_name_kana="まこと", phone="090-7788-1234", address=office),
    )
    assert res.entity_of["hs:4"] == res.entity_of["sf:4"] == res.entity_of["zd:4"]
    why = res.explain("hs:4", "zd:4")["probabilistic"]["fields"]
    assert why["family"]["level"] == "exact" and why["given"]["level"] == "exact"


def test_kana_reading_meets_romaji_without_email(population: list[dict[str, Any]]) -> None:
    office = {"postal_code": "150-0002", "locality": "渋谷区", "street": "渋谷2-21-1"}
    res = _resolve(
        population,
        person("hs", "6", family_name="斉藤", given_name="翼", family_name_kana="サイトウ", given_name_kana="ツバサ", address=office, phone="090-5511-2244"),
        person("sf", "6", family_name="Saitoh", given_name="Tsubasa", address=dict(office, street="渋谷二丁目21番1号"), phone="+81 90 5511 2244"),
    )
    assert res.entity_of["hs:6"] == res.entity_of["sf:6"]


def test_marriage_name_change_with_same_email_and_mobile_linked(population: list[dict[str, Any]]) -> None:
    res = _resolve(
        population,
        person("hs", "5", family_name="中村", given_name="由美", email="yumi.n@example-corp.jp", phone="080-2468-1357"),
        person("sf", "5", family_name="小林", given_name="由美", email="yumi.n@example-corp.jp", phone="080-2468-1357"),
    )
    assert res.entity_of["hs:5"] == res.entity_of["sf:5"]
    assert res.explain("hs:5", "sf:5")["deterministic"]["rule"] == "email"
