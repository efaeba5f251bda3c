"""The demo-data generator: deterministic, realistically messy, and honest about who is who."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest

from hub.sandbox.demo_data import DemoData, generate, seed_fakes, seed_one

KANJI = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(500, seed=7)


def phone_digits(text: str) -> str:
    """Digits of a phone number with the country code folded into the trunk prefix."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())
    if digits.startswith("81"):
        return "0" + digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return digits[1:]
    return digits


def email_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def records_of(data: DemoData, key: str) -> dict[str, dict[str, Any]]:
    lists = {"hubspot": data.hubspot_contacts, "zendesk": data.zendesk_users}
    return {tool: lists[tool][i] for tool, i in data.truth[key]}


def name_of(records: dict[str, dict[str, Any]]) -> str:
    hs, zd = records.get("hubspot", {}), records.get("zendesk", {})
    return hs.get("lastname", "") + hs.get("firstname", "") + zd.get("name", "")


def phones(record: dict[str, Any]) -> set[str]:
    return {phone_digits(record[f]) for f in ("phone", "mobilephone") if record.get(f)}


def test_same_seed_same_world_and_other_seed_another() -> None:
    assert generate(300, seed=1) == generate(300, seed=1)
    assert generate(300, seed=1).hubspot_contacts != generate(300, seed=2).hubspot_contacts


def test_distribution_is_roughly_the_target(data: DemoData) -> None:
    s = data.summary()
    assert s["people"] == 500
    assert 0.37 * 500 <= s["only_hubspot"] <= 0.53 * 500
    assert 0.18 * 500 <= s["only_zendesk"] <= 0.32 * 500
    assert 0.23 * 500 <= s["both"] <= 0.37 * 500
    assert 500 / 14 <= s["hubspot_companies"] <= 500 / 5
    assert 500 / 14 <= s["zendesk_organizations"] <= 500 / 5
    assert 0.9 <= s["zendesk_tickets"] / s["zendesk_users"] <= 1.6
    japanese = sum(bool(KANJI.search(name_of(records_of(data, k)))) for k in data.truth)
    assert 0.55 * 500 <= japanese <= 0.75 * 500
    optout = sum(c["hs_email_optout"] == "true" for c in data.hubspot_contacts)
    assert 0 < optout < 0.12 * len(data.hubspot_contacts)


def test_truth_covers_every_record_exactly_once(data: DemoData) -> None:
    seen = [(tool, i) for places in data.truth.values() for tool, i in places]
    assert len(seen) == len(set(seen))
    assert set(seen) == {("hubspot", i) for i in range(len(data.hubspot_contacts))} | {
        ("zendesk", i) for i in range(len(data.zendesk_users))
    }
    for key in data.truth:
        assert all(r["_key"] == key for r in records_of(data, key).values())
    org_lists = {"hubspot": data.hubspot_companies, "zendesk": data.zendesk_organizations}
    org_seen = [(t, i) for places in data.org_truth.values() for t, i in places]
    assert len(org_seen) == len(set(org_seen))
    assert len(org_seen) == len(data.hubspot_companies) + len(data.zendesk_organizations)
    assert all(org_lists[t][i]["_key"] == k for k, places in data.org_truth.items() for t, i in places)
    people = set(data.truth)
    assert {t["_requester"] for t in data.zendesk_tickets} <= people


def test_some_overlapping_people_differ_by_email_but_share_a_phone(data: DemoData) -> None:
    bridged = [k for (k,) in data.traps["different_email"]]
    assert len(bridged) >= 5
    raw_differs = 0
    for key in bridged:
        recs = records_of(data, key)
        hs, zd = recs["hubspot"], recs["zendesk"]
        assert email_key(hs["email"]) != email_key(zd["email"])
        assert phones(hs) & phones(zd)
        raw_differs += zd["phone"] not in (hs.get("phone"), hs.get("mobilephone"))
    assert raw_differs >= len(bridged) - 1  # the same number, written differently


def test_most_overlapping_people_share_an_email_sometimes_spelled_differently(data: DemoData) -> None:
    both = [records_of(data, k) for k, places in data.truth.items() if len(places) == 2]
    same = [r for r in both if email_key(r["hubspot"]["email"]) == email_key(r["zendesk"]["email"])]
    assert len(same) >= 0.8 * len(both)
    assert any(r["hubspot"]["email"] != r["zendesk"]["email"] for r in same)


def test_japanese_names_carry_kana_in_at_least_one_tool(data: DemoData) -> None:
    checked = 0
    for key in data.truth:
        recs = records_of(data, key)
        hs, zd = recs.get("hubspot", {}), recs.get("zendesk", {})
        if KANJI.search(name_of(recs)):
            checked += 1
            assert hs.get("lastname_kana") or zd.get("user_fields", {}).get("family_name_kana"), key
    assert checked > 200


def test_messy_characters_occur(data: DemoData) -> None:
    text = json.dumps([data.hubspot_contacts, data.zendesk_users, data.hubspot_companies], ensure_ascii=False)
    assert re.search(r"[\uff10-\uff19]", text)  # full-width digits
    assert re.search(r"[\uff21-\uff5a]", text)  # full-width letters
    assert re.search(r"[\uff66-\uff9f]", text)  # half-width katakana
    assert "\u3000" in text
    assert any(re.fullmatch(r"[\u3041-\u3096]+", c.get("lastname_kana", "")) for c in data.hubspot_contacts)
    assert any(c["email"] != c["email"].strip() for c in data.hubspot_contacts + data.zendesk_users)


def test_same_name_different_people_trap(data: DemoData) -> None:
    assert data.traps["same_name"]
    for a, b in data.traps["same_name"]:
        ra, rb = records_of(data, a), records_of(data, b)
        hs, zd = ra["hubspot"], rb["zendesk"]
        assert set(ra) == {"hubspot"} and set(rb) == {"zendesk"}
        assert KANJI.search(zd["name"])
        assert hs["lastname"] + hs["firstname"] == re.sub(r"\s", "", zd["name"])
        assert email_key(hs["email"]) != email_key(zd["email"])
        assert not phones(hs) & phones(zd)
        assert hs["_org"] != zd["_org"]


def test_colleagues_sharing_the_main_line_are_different_people(data: DemoData) -> None:
    assert data.traps["shared_main_phone"]
    for a, b in data.traps["shared_main_phone"]:
        ha, hb = records_of(data, a)["hubspot"], records_of(data, b)["hubspot"]
        assert a != b and ha["_org"] == hb["_org"]
        assert phone_digits(ha["phone"]) == phone_digits(hb["phone"])
        assert email_key(ha["email"]) != email_key(hb["email"])


def test_zendesk_emails_are_unique_and_corporate_numbers_valid(data: DemoData) -> None:
    emails = [email_key(u["email"]) for u in data.zendesk_users]
    assert len(emails) == len(set(emails))
    numbers = [c["corporate_number"] for c in data.hubspot_companies if "corporate_number" in c]
    assert numbers
    for number in numbers:
        body = number[1:]
        weighted = sum(int(d) * (2 if i % 2 else 1) for i, d in enumerate(reversed(body)))
        assert len(number) == 13 and int(number[0]) == 9 - weighted % 9
    domains = [c["domain"] for c in data.hubspot_companies]
    assert all(".example." in d for d in domains)


class Recorder:
    """A stand-in fake: records inserts and hands out increasing ids."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def insert(self, stream: str, fields: dict[str, Any]) -> str:
        self.calls.append((stream, fields))
        return str(len(self.calls))

    def sent(self, record_id: str) -> dict[str, Any]:
        return self.calls[int(record_id) - 1][1]


def test_seed_fakes_resolves_links_and_strips_private_keys() -> None:
    data = generate(120, seed=3)
    hubspot, zendesk = Recorder(), Recorder()
    ids = seed_fakes(data, hubspot, zendesk)
    hs, zd = ids["hubspot"], ids["zendesk"]

    def streams(*lists: tuple[str, list[dict[str, Any]]]) -> list[str]:
        return [stream for stream, records in lists for _ in records]

    assert [s for s, _ in hubspot.calls] == streams(
        ("companies", data.hubspot_companies), ("contacts", data.hubspot_contacts)
    )
    assert [s for s, _ in zendesk.calls] == streams(
        ("organizations", data.zendesk_organizations),
        ("users", data.zendesk_users),
        ("tickets", data.zendesk_tickets),
    )
    assert all(not k.startswith("_") for _, fields in hubspot.calls + zendesk.calls for k in fields)

    for contact in data.hubspot_contacts:
        expected = hs[contact["_org"]] if contact["_org"] else None
        assert hubspot.sent(hs[contact["_key"]]).get("associatedcompanyid") == expected
    for user in data.zendesk_users:
        expected = zd[user["_org"]] if user["_org"] else None
        assert zendesk.sent(zd[user["_key"]]).get("organization_id") == expected
    for ticket in data.zendesk_tickets:
        assert zendesk.sent(zd[ticket["_key"]])["requester_id"] == zd[ticket["_requester"]]
    assert any(c.get("_org") for c in data.hubspot_contacts)
    assert any(u.get("_org") for u in data.zendesk_users)


def test_seed_one_fills_a_single_tool() -> None:
    data = generate(60, seed=4)
    zendesk = Recorder()
    counts = seed_one(data, "zendesk", zendesk)
    assert counts == {"organizations": len(data.zendesk_organizations), "users": len(data.zendesk_users),
                      "tickets": len(data.zendesk_tickets)}
    assert len(zendesk.calls) == sum(counts.values())
    with pytest.raises(ValueError, match="salesforce"):
        seed_one(data, "salesforce", zendesk)


def test_empty_world() -> None:
    assert generate(0).summary()["people"] == 0


@pytest.mark.slow  # its speed is measured by bench/sync_throughput.py (seed_seconds), not here
def test_one_hundred_thousand_people() -> None:
    data = generate(100_000, seed=1)
    assert len(data.truth) == 100_000
    assert data.summary()["people"] == 100_000
