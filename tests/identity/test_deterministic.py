"""The identifier graph and its guards (after Segment Unify and RudderStack's id stitcher)."""

from __future__ import annotations

from typing import Any

from hub.identity import ResolverConfig, resolve

from tests.identity.builders import person


def test_cross_tool_id_links_whatever_the_names(population: list[dict[str, Any]]) -> None:
    res = resolve([
        *population,
        person("salesforce", "003A", family_name="Ito", given_name="Ken"),
        person("hubspot", "77", family_name="伊東", given_name="健", source_refs=[{"system": "salesforce", "object": "contact", "id": "003A"}]),
    ])
    assert res.entity_of["salesforce:003A"] == res.entity_of["hubspot:77"]
    assert res.explain("salesforce:003A", "hubspot:77")["deterministic"]["rule"] == "ref"


def test_email_links_and_explains(population: list[dict[str, Any]]) -> None:
    res = resolve([*population, person("a", "1", family_name="Mori", email="k.mori@x.jp"), person("b", "1", email="K.Mori@X.jp")])
    assert res.entity_of["a:1"] == res.entity_of["b:1"]
    assert {(link.rule, link.value) for link in res.links()} >= {("email", "k.mori@x.jp")}


def test_blocklisted_value_never_links(population: list[dict[str, Any]]) -> None:
    config = ResolverConfig(blocklist=frozenset({"shared@x.jp"}))
    res = resolve([*population, person("a", "1", family_name="森", email="shared@x.jp"), person("b", "1", family_name="林", email="shared@x.jp")], config)
    assert res.entity_of["a:1"] != res.entity_of["b:1"]


def test_email_seen_with_different_people_is_shared(population: list[dict[str, Any]]) -> None:
    res = resolve([
        *population,
        person("a", "1", family_name="木村", given_name="拓哉", email="kimura.family@home.jp"),
        person("b", "1", family_name="木村", given_name="静香", email="kimura.family@home.jp"),
    ])
    assert res.entity_of["a:1"] != res.entity_of["b:1"]
    assert "different names" in res.refused[("email", "kimura.family@home.jp")]


def test_mobile_shared_by_a_family_is_not_an_identifier(population: list[dict[str, Any]]) -> None:
    res = resolve([
        *population,
        person("a", "1", family_name="岡田", given_name="准一", phone="090-8642-9753"),
        person("b", "1", family_name="岡田", given_name="結子", phone="090-8642-9753"),
    ])
    assert res.entity_of["a:1"] != res.entity_of["b:1"]


def test_cardinality_limit(population: list[dict[str, Any]]) -> None:
    config = ResolverConfig(max_identifier_group=3)
    crowd = [person("t", str(i), email="k.tanaka@corp.jp") for i in range(5)]
    res = resolve([*population, *crowd], config)
    assert len({res.entity_of[f"t:{i}"] for i in range(5)}) == 5
    assert "shared by 5" in res.refused[("email", "k.tanaka@corp.jp")]


def test_placeholder_phone_and_email_never_link(population: list[dict[str, Any]]) -> None:
    res = resolve([
        *population,
        person("a", "1", family_name="森", phone="090-0000-0000", email="test@test.com"),
        person("b", "1", family_name="林", phone="090-0000-0000", email="test@test.com"),
    ])
    assert res.entity_of["a:1"] != res.entity_of["b:1"]


def test_priority_a_stronger_identifier_overrides_a_name_clash(population: list[dict[str, Any]]) -> None:
    # joined by a cross-tool id first, the records no longer count as two people for the email
    res = resolve([
        *population,
        person("sf", "9", family_name="Brown", given_name="Bob", email="bob@x.com"),
        person("hs", "9", family_name="Brown", given_name="Robert", email="bob@x.com", source_refs=[{"system": "sf", "id": "9"}]),
    ])
    assert res.entity_of["sf:9"] == res.entity_of["hs:9"]
