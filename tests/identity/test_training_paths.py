"""The engine's first training takes array shortcuts; each must say what the per-pair code says."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from hub import resolution
from hub.identity import ResolverConfig, resolve
from hub.identity.blocking import KINDS
from hub.identity.compare import compare
from hub.identity.features import (
    Features,
    decode_features,
    encode_features,
    extract,
    features_stamp,
)
from hub.identity.table import FeatureTable
from tests.identity.builders import person


def _records() -> list[dict[str, Any]]:
    """People whose pairs meet every branch of :func:`resolution.contradiction`."""
    tokyo = {"street": "千代田1-1", "postal_code": "100-0001", "locality": "千代田区", "region": "東京都"}
    return [
        person("crm", "1", family_name="山田", given_name="太郎", phone="090-1111-2222", email="taro@gmail.com", address=tokyo),
        person("ma", "1", family_name="山田", given_name="太郎", phone="090-3333-4444", address=tokyo),
        person("crm", "2", family_name="山田", given_name="太郎", email="t.yamada@acme.co.jp", address=tokyo),
        person("ma", "2", family_name="山田", given_name="太郎", email="t.yamada@globex.co.jp", address=tokyo),
        person("crm", "3", family_name="山田", given_name="太郎", organization_name="株式会社エーシーエム", address=tokyo),
        person("ma", "3", family_name="山田", given_name="太郎", organization_name="グローベックス株式会社", address=tokyo),
        person("crm", "4", family_name="山田", given_name="太郎", organization_id="42", address=tokyo),
        # more mobiles than the table keeps: the third one is shared with crm:1's
        person(
            "hd", "5", family_name="山田", given_name="太郎",
            phones=[{"number": "090-5555-6666"}, {"number": "090-7777-8888"}, {"number": "090-1111-2222"}],
        ),
        person("hd", "6", family_name="山田", given_name="太郎", email="taro@gmail.com", phone="090-9999-0000"),
    ]


def test_contradictions_of_table_rows_match_the_per_pair_test() -> None:
    config = ResolverConfig()
    feats = [extract(r, config) for r in _records()]
    table = FeatureTable()
    table.extend(feats)
    spill = {i: f for i, f in enumerate(feats) if len(f.mobiles) > 2 or len(f.emails) > 3 or len(f.org_domains) > 2}
    assert spill  # the spill path is exercised
    a, b = np.triu_indices(len(feats), k=1)
    got = resolution._contradictions(table, a, b, spill)
    want = [resolution.contradiction(feats[x], feats[y]) for x, y in zip(a.tolist(), b.tolist())]
    assert got == want
    assert {w for w in want if w} == {resolution._MOBILES, resolution._DOMAINS, resolution._COMPANIES}


def test_batch_explanations_equal_one_pair_explanations(population: list[dict[str, Any]]) -> None:
    result = resolve(population + _records())
    table = result._table
    assert table is not None
    a, b = np.triu_indices(min(table.n, 40), k=1)
    levels = compare(table, a, b)
    batch = result.model.explanations(table, levels)
    assert len(batch) == len(a)
    for i in range(len(a)):
        assert batch[i] == result.model.explain(table, levels, i)


def test_block_keys_are_stable_and_the_cache_changes_nothing() -> None:
    config = ResolverConfig()
    cache: dict[str, int] = {}
    for rec in _records():
        f = extract({**rec, "record_id": "x"}, config)
        assert resolution.block_keys(f, cache) == resolution.block_keys(f)
    # keys already in a store were written by this formula: it must not drift
    f = Features(record_id="x", family="山田", given="太郎", email_locals=("taro",))
    digest = hashlib.blake2b("taro".encode(), digest_size=8).digest()
    local = (KINDS.index("local") * 8 << 56) | (int.from_bytes(digest, "big") & ((1 << 56) - 1))
    assert local in resolution.block_keys(f)


def test_decided_rows_are_links_and_review_in_order(population: list[dict[str, Any]]) -> None:
    result = resolve(population + _records())
    ids = result._table.record_ids  # type: ignore[union-attr]
    (la, lb, lp), (ra, rb, rp) = result.decided_rows()
    links = [(lk.a, lk.b, lk.probability) for lk in result.links() if lk.rule == "probabilistic"]
    assert [(ids[x], ids[y], p) for x, y, p in zip(la.tolist(), lb.tolist(), lp.tolist())] == links
    review = [(r.a, r.b, r.probability) for r in result.review]
    assert [(ids[x], ids[y], p) for x, y, p in zip(ra.tolist(), rb.tolist(), rp.tolist())] == review


def test_beyond_name_of_table_rows_matches_the_per_pair_test() -> None:
    config = ResolverConfig()
    feats = [extract(r, config) for r in _records()]
    table = FeatureTable(capacity=len(feats))
    rows = [table.append(f) for f in feats]
    pairs = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows))]
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    spill = {i: f for i, f in enumerate(feats) if len(f.mobiles) > 2}
    got = resolution._beyond_name(table, a, b, spill).tolist()
    assert got == [resolution.shares_beyond_name(feats[i], feats[j]) for i, j in pairs]
    assert any(got) and not all(got)


def test_namesakes_sharing_nothing_but_the_name_are_not_queued() -> None:
    config = ResolverConfig()
    at_acme = extract(person("crm", "1", family_name="鈴木", given_name="直子", email="n.suzuki@acme.co.jp", phone="090-1111-2222"), config)
    at_globex = extract(person("ma", "1", family_name="鈴木", given_name="直子", email="n.suzuki@globex.co.jp", phone="090-3333-4444"), config)
    moved = extract(
        person("ma", "2", family_name="鈴木", given_name="直子", email="n.suzuki@globex.co.jp", address={"street": "千代田1-1", "postal_code": "100-0001"}),
        config,
    )
    same_street = extract(
        person("crm", "2", family_name="鈴木", given_name="直子", email="n.suzuki@acme.co.jp", address={"street": "千代田1-1", "postal_code": "100-0001"}),
        config,
    )
    assert resolution.contradiction(at_acme, at_globex)
    assert not resolution.shares_beyond_name(at_acme, at_globex)  # namesakes: no question to ask
    assert resolution.contradiction(same_street, moved)
    assert resolution.shares_beyond_name(same_street, moved)  # a job change at one address: asked


def test_an_address_counts_only_as_a_place_not_a_postcode_or_a_street_name() -> None:
    config = ResolverConfig()

    def at(sid: str, **address: str) -> Features:
        return extract(person("crm", sid, family_name="佐藤", given_name="太郎", address=address), config)

    home = at("1", street="中央1-2-3", postal_code="100-0001", locality="千代田区")
    assert resolution.shares_beyond_name(home, at("2", street="中央1-2-3", postal_code="100-0001"))
    assert resolution.shares_beyond_name(home, at("3", street="中央1-2-3", locality="千代田区"))
    assert not resolution.shares_beyond_name(home, at("4", street="中央1-2-3", postal_code="530-0001", locality="大阪市北区"))
    assert not resolution.shares_beyond_name(home, at("5", street="丸の内2-1", postal_code="100-0001", locality="千代田区"))


def test_stored_features_decode_to_what_extract_made(population: list[dict[str, Any]]) -> None:
    config = ResolverConfig()
    stamp = features_stamp(config)
    for rec in [*_records(), *population[:300]]:
        f = extract(rec, config)
        assert decode_features(f.record_id, encode_features(f, stamp), stamp) == f


def test_features_made_with_other_settings_are_stale() -> None:
    f = extract(_records()[0], ResolverConfig())
    data = encode_features(f, features_stamp(ResolverConfig()))
    other = features_stamp(ResolverConfig(default_region="US"))
    assert other != features_stamp(ResolverConfig()) and decode_features(f.record_id, data, other) is None
    # thresholds do not change what a record becomes: its features stay good
    assert features_stamp(ResolverConfig(high=0.95, low=0.6)) == features_stamp(ResolverConfig())


def test_the_training_sample_is_even_and_stable() -> None:
    assert resolution._sampler(1000, 1000) is None and resolution._sampler(1000, None) is None
    sampled = resolution._sampler(1_000_000, 150_000)
    assert sampled is not None
    ids = range(1, 1_000_001)
    hits = [rid for rid in ids if sampled(rid)]
    assert abs(len(hits) - 150_000) < 150
    # evenly spread: every tenth of the store holds its share (records arrive tool by tool)
    for lo in range(0, 1_000_000, 100_000):
        assert abs(sum(1 for rid in hits if lo < rid <= lo + 100_000) - 15_000) < 100
    assert [rid for rid in ids if sampled(rid)] == hits
