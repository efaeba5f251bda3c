from __future__ import annotations

import orjson

from hub.golden import Observation, observed_times, pack_provenance, resolve, unpack_provenance


def obs(connector: str, canonical: dict, ts: str, echo: tuple[str, ...] = ()) -> Observation:
    return Observation(connector, "s", "1", canonical, {k: ts for k in canonical}, frozenset(echo), ts)


def test_newest_wins_and_empty_never_overwrites() -> None:
    g = resolve(
        "person",
        [
            obs("hubspot", {"job_title": "Manager", "department": "Sales"}, "2024-01-01T00:00:00.000Z"),
            obs("zendesk", {"job_title": "Director", "department": ""}, "2024-02-01T00:00:00.000Z"),
        ],
    )
    assert g.data["job_title"] == "Director"
    assert g.data["department"] == "Sales"
    assert g.provenance["job_title"].obs.connector == "zendesk" and g.conflicts == 1


def test_priority_list_beats_recency() -> None:
    g = resolve(
        "person",
        [
            obs("hubspot", {"job_title": "Manager"}, "2024-01-01T00:00:00.000Z"),
            obs("zendesk", {"job_title": "Director"}, "2024-02-01T00:00:00.000Z"),
        ],
        {"person.job_title": ["hubspot", "zendesk"]},
    )
    assert g.data["job_title"] == "Manager" and g.provenance["job_title"].rule == "priority"


def test_opt_out_always_wins() -> None:
    g = resolve(
        "person",
        [
            obs("hubspot", {"consents": {"email": {"status": "opted_out"}}}, "2024-01-01T00:00:00.000Z"),
            obs("zendesk", {"consents": {"email": {"status": "opted_in"}, "sms": {"status": "opted_in"}}}, "2024-09-01T00:00:00.000Z"),
        ],
    )
    assert g.data["consents"] == {"email": {"status": "opted_out"}, "sms": {"status": "opted_in"}}
    assert g.provenance["consents"].rule == "opt_out"


def test_echo_never_beats_a_real_observation() -> None:
    g = resolve(
        "person",
        [
            obs("hubspot", {"job_title": "Old value written by the hub"}, "2024-09-01T00:00:00.000Z", echo=("job_title",)),
            obs("zendesk", {"job_title": "Real"}, "2024-01-01T00:00:00.000Z"),
        ],
    )
    assert g.data["job_title"] == "Real"


def test_lists_are_merged_newest_first_without_duplicates() -> None:
    g = resolve(
        "person",
        [
            obs("hubspot", {"emails": [{"address": "a@x.jp"}], "phones": [{"number": "+819012345678", "type": "mobile"}]}, "2024-01-01T00:00:00.000Z"),
            obs("zendesk", {"emails": [{"address": "b@y.jp"}], "phones": [{"number": "+819012345678"}]}, "2024-02-01T00:00:00.000Z"),
        ],
    )
    assert g.data["emails"] == [{"address": "b@y.jp"}, {"address": "a@x.jp"}]
    assert len(g.data["phones"]) == 1


def test_deleted_observations_do_not_count() -> None:
    o = obs("hubspot", {"job_title": "Gone"}, "2024-09-01T00:00:00.000Z")
    o.deleted = True
    g = resolve("person", [o, obs("zendesk", {"job_title": "Here"}, "2024-01-01T00:00:00.000Z")])
    assert g.data["job_title"] == "Here"


def _ranked_by_full_sort(cands: list[Observation], name: str, priority: list[str]) -> list[Observation]:
    """The ranking as three stable sorts of each field's candidates (how it was first written)."""
    cands = sorted(cands, key=lambda o: (o.connector, o.stream, o.source_id))
    cands.sort(key=lambda o: o.field_ts.get(name) or o.updated_at or "", reverse=True)
    if priority:
        cands.sort(key=lambda o: priority.index(o.connector) if o.connector in priority else len(priority))
    return cands


def test_ranking_once_per_entity_picks_what_per_field_sorting_picks() -> None:
    import random

    rng = random.Random(5)
    stamps = [None, "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"]
    for _ in range(300):
        observations = [
            Observation(
                rng.choice(["hubspot", "zendesk", "kintone"]),
                rng.choice(["contacts", "users"]),
                str(rng.randint(1, 3)),
                {k: rng.choice([None, "", f"{k}-{i}", "same"]) for k in ("job_title", "department", "owner")},
                {k: ts for k in ("job_title", "owner") if (ts := rng.choice(stamps))},
                frozenset(k for k in ("job_title", "department") if rng.random() < 0.2),
                rng.choice(stamps),
            )
            for i in range(rng.randint(1, 4))
        ]
        priority = rng.choice([None, {"person.job_title": ["zendesk", "hubspot"]}])
        g = resolve("person", observations, priority)
        for name in ("job_title", "department", "owner"):
            cands = [o for o in observations if o.canonical.get(name) not in (None, "") and name not in o.echo]
            if not cands:
                assert name not in g.data
                continue
            best = _ranked_by_full_sort(cands, name, (priority or {}).get(f"person.{name}", []))[0]
            assert g.provenance[name].obs is best
            assert g.data[name] == best.canonical[name]


def test_list_item_keys_are_the_json_they_always_were() -> None:
    import json

    from hub.golden import item_key

    for item in ({"postal_code": "530-0001", "type": "work", "region": "大阪府"}, ["a", 1], "x", {"number": None, "b": 2}):
        plain = {k: v for k, v in item.items() if k != "type"} if isinstance(item, dict) else item
        assert item_key(item) == json.dumps(plain, sort_keys=True, ensure_ascii=False)


def test_provenance_is_stored_packed_and_read_back_per_field() -> None:
    g = resolve(
        "person",
        [
            obs("hubspot", {"job_title": "Manager", "department": "Sales", "family_name": "Sato"}, "2024-01-01T00:00:00.000Z"),
            obs("zendesk", {"job_title": "Director", "given_name": "Ken"}, "2024-02-01T00:00:00.000Z"),
        ],
    )
    per_field = {
        name: {"connector": p.obs.connector, "stream": p.obs.stream, "source_id": p.obs.source_id, "observed_at": p.observed_at, "rule": p.rule}
        for name, p in g.provenance.items()
    }
    packed = pack_provenance(g.provenance)
    assert unpack_provenance(orjson.loads(orjson.dumps(packed))) == per_field
    assert per_field["job_title"]["connector"] == "zendesk" and per_field["department"]["connector"] == "hubspot"
    # each source record and timestamp once: the stored form is much smaller than a dict per field
    assert len(packed["sources"]) == 2 and len(packed["times"]) == 2
    assert len(orjson.dumps(packed)) < 0.6 * len(orjson.dumps(per_field))
    # what a write needs: when each value was observed
    times = {name: p["observed_at"] for name, p in per_field.items()}
    assert observed_times(packed) == times and times["given_name"] == "2024-02-01T00:00:00.000Z"
    # a store written before packing still reads the same
    assert unpack_provenance(per_field) == per_field and observed_times(per_field) == times
    assert unpack_provenance(None) == {} and unpack_provenance({}) == {} and observed_times(None) == {}
