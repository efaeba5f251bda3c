"""EM learns m and u from unlabelled data."""

from __future__ import annotations

import random

import numpy as np

from hub.identity import resolve
from hub.identity.compare import LEVELS


def _synthetic(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    given = ["james", "mary", "john", "linda", "robert", "susan", "michael", "karen", "david", "lisa", "paul", "nancy"]
    family = [f"fam{i:03d}" for i in range(300)]
    recs = []
    for e in range(n):
        g, f = rng.choice(given), rng.choice(family)
        birth = f"19{rng.randint(30, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        street = f"{rng.randint(1, 300)} {rng.choice(['oak', 'elm', 'pine', 'main', 'lake'])} street"
        for k in range(rng.choice([1, 1, 2, 3])):
            gg = g if rng.random() > 0.15 else g[:-1] + "x"
            recs.append({
                "source": "s", "source_id": f"{e}-{k}", "given_name": gg, "family_name": f, "birth_date": birth,
                "addresses": [{"street": street, "postal_code": str(2000 + e % 50), "country": "AU"}],
            })
    return recs


def test_em_converges_to_sensible_m_and_u() -> None:
    res = resolve(_synthetic(600))
    model = res.model
    assert model.sessions, "at least one EM session ran"
    assert all(s["iterations"] < 200 for s in model.sessions.values())
    exact = {c: model.m[c][-1] for c in ("family", "given", "birth")}
    assert exact["family"] > 0.9 and exact["birth"] > 0.9
    assert 0.6 < exact["given"] < 0.98  # 15% of duplicates carry a typo in the given name
    for comp, levels in LEVELS.items():
        assert abs(sum(model.m[comp][1:]) - 1) < 1e-6 and abs(sum(model.u[comp][1:]) - 1) < 1e-6, comp
    # chance agreement on a birth date is rare, on a family name rarer than on a given name
    assert model.u["birth"][-1] < 0.01 and model.u["family"][-1] < model.u["given"][-1]
    assert 0 < model.prior < 0.05


def test_term_frequency_makes_common_names_weaker() -> None:
    recs = [{"source": "s", "source_id": str(i), "family_name": "smith" if i % 3 else f"rare{i}", "given_name": "ann"} for i in range(90)]
    res = resolve(recs)
    tf = res.model.tf["family"]
    assert tf["smith"] > 0.5
    table = res._table
    assert table is not None
    from hub.identity.compare import compare

    rows = {rid: i for i, rid in enumerate(table.record_ids)}
    common = compare(table, np.array([rows["s:1"]]), np.array([rows["s:2"]]))
    weight_common, _ = res.model.match_weight(table, common)
    same_rare = [{"source": "t", "source_id": "x", "family_name": "rare3", "given_name": "ann"}]
    res2 = resolve([*recs, *same_rare], model=res.model)
    t2 = res2._table
    assert t2 is not None
    r2 = {rid: i for i, rid in enumerate(t2.record_ids)}
    rare = compare(t2, np.array([r2["s:3"]]), np.array([r2["t:x"]]))
    weight_rare, _ = res.model.match_weight(t2, rare)
    assert weight_rare[0] > weight_common[0]
