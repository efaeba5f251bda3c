from __future__ import annotations

from hub.golden import Observation, resolve


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
