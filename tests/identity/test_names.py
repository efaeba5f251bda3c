"""Given-name levels from the lexicon (nicknames, distinct names, misspellings), placeholder
names, whole-name agreement, the postal-free address key and loading older models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hub.identity import MatchModel, ResolverConfig
from hub.identity.blocking import candidate_pairs
from hub.identity.compare import COMPARISONS, GIVEN_CONFLICT, LEVELS, compare
from hub.identity.features import extract
from hub.identity.model import default_m
from hub.identity.table import FeatureTable

CONFIG = ResolverConfig(default_region="US")


def _table(*records: dict[str, Any]) -> FeatureTable:
    table = FeatureTable()
    table.extend([extract({"source": "t", "source_id": str(i), **r}, CONFIG) for i, r in enumerate(records)])
    return table


def _pair(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """(comparison -> level label, whether the given names conflict) of two records."""
    pl = compare(_table(a, b), np.array([0]), np.array([1]))
    levels = {c: LEVELS[c][int(pl.levels[i, 0])] for i, c in enumerate(COMPARISONS)}
    return levels, bool(pl.flags[0] & GIVEN_CONFLICT)


@pytest.mark.parametrize(
    ("a", "b", "level", "conflict"),
    [
        ("Robert", "Bob", "nickname", False),  # a nickname, though nothing alike in spelling
        ("Harold", "Harry", "nickname", False),
        ("James", "Jamie", "nickname", False),  # a nickname beats a close spelling
        ("Kathy", "Lena", "else", True),  # both nicknames of Katherine: not of each other
        ("Patrick", "Patricia", "else", True),  # two distinct names, however alike
        ("Daniel", "Danielle", "else", True),
        ("Teresa", "Theresa", "jw95", False),  # distinct names one typo apart: maybe one, spelt two ways
        ("Jvlia", "Julia", "jw90", False),  # not a name, one typo from one: a misspelling
        ("Ky1e", "Kyle", "jw90", False),
        ("Yuki", "Yuko", "jw80", True),  # romaji: the English lexicon knows nothing of it
    ],
)
def test_given_name_levels(a: str, b: str, level: str, conflict: bool) -> None:
    levels, clash = _pair({"given_name": a, "family_name": "Smith"}, {"given_name": b, "family_name": "Smith"})
    assert (levels["given"], clash) == (level, conflict)


@pytest.mark.parametrize("filler", ["Unknown", "Lady Of The House", "N/A", "ご担当者様", "不明", "Resident"])
def test_placeholder_names_are_missing(filler: str) -> None:
    feats = extract({"source": "t", "source_id": "1", "given_name": filler, "family_name": filler}, CONFIG)
    assert (feats.given, feats.family, feats.full) == ("", "", "")


@pytest.mark.parametrize("name", ["Son", "Nina", "Na", "Smith", "太郎"])
def test_real_names_are_not_placeholders(name: str) -> None:
    assert extract({"source": "t", "source_id": "1", "given_name": name}, CONFIG).given != ""


def test_records_lacking_the_same_part_do_not_agree_on_it() -> None:
    # "Lisa" and "Lisa Occupant" (a filler): the given names agree, the surnames are unknown
    levels, _ = _pair({"given_name": "Lisa"}, {"given_name": "Lisa", "family_name": "Occupant"})
    assert (levels["given"], levels["family"]) == ("exact", "null")
    # a name kept whole in one field still meets the same name split in two
    levels, _ = _pair({"name": "山田太郎"}, {"family_name": "山田", "given_name": "太郎"})
    assert (levels["given"], levels["family"]) == ("exact", "exact")


def test_street_and_house_pair_records_whatever_the_postal_code() -> None:
    street = {"street": "8203 west farwell avenue", "locality": "Anytown", "country": "US"}
    table = _table(
        {"given_name": "Lindsey", "family_name": "Milam", "addresses": [dict(street, postal_code="00012")]},
        {"given_name": "Male", "family_name": "Milam", "addresses": [dict(street, postal_code="00000")]},
        {"given_name": "Ann", "family_name": "Other", "addresses": [dict(street, street="8203 east lane")]},
    )
    a, b, by_kind = candidate_pairs(table, max_block=30, window=2, max_name_block=10)
    pairs = set(zip(a.tolist(), b.tolist()))
    address_pairs = {(int(a[i]), int(b[i])) for i in by_kind["address"]}
    assert (0, 1) in pairs and (0, 1) in address_pairs
    assert (0, 2) not in address_pairs and (1, 2) not in address_pairs


def test_version_one_model_loads_with_todays_levels() -> None:
    v1_given = [0.0, 0.01, 0.01, 0.02, 0.03, 0.03, 0.9]  # null, else, initial, jw80, jw90, jw95, exact
    stored = {c: default_m(len(LEVELS[c])) for c in COMPARISONS}
    stored["given"] = v1_given
    model = MatchModel.from_dict({"version": 1, "m": stored, "u": stored, "prior": 0.01})
    assert len(model.m["given"]) == len(LEVELS["given"])
    by_label = dict(zip(LEVELS["given"], model.m["given"]))
    assert by_label["exact"] == 0.9 and by_label["jw80"] == 0.02 and by_label["nickname"] < 1e-5
    assert model.level_weights()["given"][LEVELS["given"].index("nickname")] == 0.0  # m = u: no weight
    again = MatchModel.from_dict(model.to_dict())
    assert again.m == model.m and again.u == model.u
