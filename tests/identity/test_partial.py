"""A record missing a name part links to the one person it can be, never to a household."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.identity import IdentityIndex, MatchModel, ResolverConfig, resolve
from hub.identity.partial import UNIQUE_REASON

CONFIG = ResolverConfig(default_region="US")


def _rec(rid: str, given_name: str | None, family_name: str | None, street: str) -> dict[str, Any]:
    return {
        "record_id": rid, "given_name": given_name, "family_name": family_name,
        "addresses": [{"street": street, "locality": "Springfield", "postal_code": "12345", "country": "US"}],
    }


@lru_cache(maxsize=1)
def _model() -> MatchModel:
    """A model learnt on people seen twice (some having moved, some without a given name)."""
    rng = random.Random(3)

    def word(n: int) -> str:
        return "".join(rng.choice("abcdefghijklmnoprstuvwyz") for _ in range(n))

    families, givens = [word(7) for _ in range(300)], [word(5) for _ in range(60)]
    records = []
    for e in range(600):
        fam, giv = rng.choice(families), rng.choice(givens)
        street = f"{rng.randint(1, 999)} {word(6)} st"
        for k in range(rng.choice([1, 2, 2])):
            moved = rng.random() < 0.2
            records.append(_rec(f"bg:{e}-{k}", giv if rng.random() > 0.1 else None, fam, f"{rng.randint(1, 999)} {word(6)} st" if moved else street))
    return resolve(records, CONFIG).model


def _resolve(*records: dict[str, Any], config: ResolverConfig = CONFIG) -> Any:
    return resolve(list(records), config, model=_model())


def test_nameless_record_links_to_the_only_person_at_the_address() -> None:
    res = _resolve(
        _rec("census:1", "Kristy", "Kharchenko", "181 reidlin rd"),
        _rec("w2:1", "Kristy", "Kharchenko", "181 reidlin rd"),
        _rec("w2:2", None, "Kharchenko", "181 reidlin rd"),
    )
    assert res.entity_of["w2:2"] == res.entity_of["census:1"] == res.entity_of["w2:1"]
    assert res.explain("w2:2", "census:1")["probabilistic"]["partial"] == UNIQUE_REASON
    assert res.stats["links_partial"] >= 1


def test_nameless_record_in_a_household_goes_to_review() -> None:
    res = _resolve(
        _rec("census:1", "Kristy", "Kharchenko", "181 reidlin rd"),
        _rec("census:2", "Ivan", "Kharchenko", "181 reidlin rd"),
        _rec("w2:2", None, "Kharchenko", "181 reidlin rd"),
    )
    assert len({res.entity_of[r] for r in ("census:1", "census:2", "w2:2")}) == 3
    assert {frozenset((p.a, p.b)) for p in res.review} >= {frozenset(("w2:2", "census:1")), frozenset(("w2:2", "census:2"))}


def test_record_without_surname_links_only_when_one_person_fits() -> None:
    alone = _resolve(_rec("a:1", "Brandon", "Towne", "624 whitney st"), _rec("b:1", "Brandon", None, "624 whitney st"))
    assert alone.entity_of["a:1"] == alone.entity_of["b:1"]
    # two Brandons at the address (a father and son, a shared flat): it could be either
    two = _resolve(
        _rec("a:1", "Brandon", "Towne", "624 whitney st"),
        _rec("a:2", "Brandon", "Miller", "624 whitney st"),
        _rec("b:1", "Brandon", None, "624 whitney st"),
    )
    assert len({two.entity_of[r] for r in ("a:1", "a:2", "b:1")}) == 3


def test_switched_off_the_pair_stays_in_review() -> None:
    config = ResolverConfig(default_region="US", link_partial=False)
    res = _resolve(_rec("census:1", "Kristy", "Kharchenko", "181 reidlin rd"), _rec("w2:2", None, "Kharchenko", "181 reidlin rd"), config=config)
    assert res.entity_of["w2:2"] != res.entity_of["census:1"]


def test_index_revokes_the_link_when_a_second_person_arrives() -> None:
    index = IdentityIndex(_model(), CONFIG)
    index.add(_rec("census:1", "Kristy", "Kharchenko", "181 reidlin rd"))
    d = index.add(_rec("w2:2", None, "Kharchenko", "181 reidlin rd"))
    assert d.rule == "probabilistic" and index.entity_of("w2:2") == index.entity_of("census:1")
    assert index.explain("w2:2", "census:1")["probabilistic"]["partial"] == UNIQUE_REASON
    index.add(_rec("census:2", "Ivan", "Kharchenko", "181 reidlin rd"))
    assert index.entity_of("w2:2") != index.entity_of("census:1")
    index.remove("census:2")
    assert index.entity_of("w2:2") == index.entity_of("census:1")


_PART = st.fixed_dictionaries(
    {
        "family": st.sampled_from(["Kharchenko", "Saunders", "Smith", None]),
        "given": st.sampled_from(["Kristy", "Ivan", "Kris", "Chris", None]),
        "street": st.sampled_from(["181 reidlin rd", "815 4th st"]),
        "source": st.sampled_from(["a", "b"]),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(_PART, min_size=2, max_size=12), seed=st.integers(0, 1000))
def test_one_by_one_equals_batch_with_partial_names(specs: list[dict[str, Any]], seed: int) -> None:
    records = [_rec(f"{s['source']}:{i}", s["given"], s["family"], s["street"]) for i, s in enumerate(specs)]
    config = ResolverConfig(default_region="US", max_block=4, max_name_block=3)
    batch = resolve(records, config, model=_model())
    index = IdentityIndex(_model(), config)
    order = records[:]
    random.Random(seed).shuffle(order)
    for rec in order:
        index.add(rec)
    partition = sorted(sorted(v) for v in batch.clusters.values())
    assert sorted(sorted(v) for v in index.clusters().values()) == partition
    for rec in random.Random(seed + 1).sample(order, min(3, len(order))):
        index.remove(rec["record_id"])
        index.add(rec)
    assert sorted(sorted(v) for v in index.clusters().values()) == partition
