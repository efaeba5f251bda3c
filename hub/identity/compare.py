"""Comparison levels of record pairs, computed over whole arrays of pairs at once.

Each comparison maps a pair to a level: 0 is "null" (a side is missing the field, so it is no
evidence either way), 1 is "else" (both known, clearly different), higher levels agree more
and the last is exact agreement. Names are compared in every representation a record has —
folded text, kana reading, loose romaji — so 髙橋/高橋, タカハシ/Takahashi and Satoh/サトウ
agree exactly. String similarity (Jaro-Winkler) is computed once per distinct pair of values.
English given names are also read against a lexicon (:mod:`~hub.identity.lexicon.nicknames`,
:mod:`~hub.identity.lexicon.given_names`): Bob meets Robert as a nickname, Patricia is not
Patrick however alike they look, and Jvlia is Julia misspelt.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from hub.identity.normalize import is_cjk, known_given_names, nickname_pairs
from hub.identity.table import FeatureTable

LEVELS: dict[str, tuple[str, ...]] = {
    "family": ("null", "else", "jw80", "jw90", "jw95", "exact"),
    "given": ("null", "else", "initial", "nickname", "jw80", "jw90", "jw95", "exact"),
    "birth": ("null", "else", "close", "exact"),
    "natid": ("null", "else", "near", "close", "exact"),
    "email": ("null", "else", "local", "exact"),
    "phone": ("null", "else", "landline", "mobile"),
    "address": ("null", "else", "region", "partial", "area", "street_area", "street_area_house", "exact"),
    "building": ("null", "else", "jw85", "exact"),
    "org": ("null", "else", "close", "exact"),
}
"""Comparison -> level labels, weakest first; index 0 is null and carries no weight."""

COMPARISONS: tuple[str, ...] = tuple(LEVELS)
TF_COMPARISONS: tuple[str, ...] = ("family", "given")
"""Comparisons whose exact level is adjusted by how common the agreed value is."""

# pair flags, read by the scorer's guards
GIVEN_CONFLICT = 1
"""Both given names known and clearly different (not a typo, initial, swap or reading)."""
PERSONAL = 2
"""A personal identifier agrees: e-mail, national id (within two typos) or birth date."""
MOBILE = 4
"""A mobile number agrees."""
GIVEN_MISSING = 8
"""One side has a given name and the other none, and the surnames agree or nearly."""

_PARALLEL_FROM = 20_000
_G = {label: i for i, label in enumerate(LEVELS["given"])}


@dataclass
class PairLevels:
    """Levels of a batch of pairs.

    Attributes:
        levels: (comparisons, pairs) int8, rows in :data:`COMPARISONS` order.
        tf_codes: Comparison -> per pair, the vocabulary code of the value agreed on at the
            exact level (0 elsewhere), for term-frequency adjustment.
        flags: Per pair, a bit set of :data:`GIVEN_CONFLICT`, :data:`PERSONAL`, :data:`MOBILE`,
            :data:`GIVEN_MISSING`.
    """

    levels: np.ndarray
    tf_codes: dict[str, np.ndarray]
    flags: np.ndarray


def _sim(strings: np.ndarray, ca: np.ndarray, cb: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Jaro-Winkler similarity of code pairs (1 for equal, 0 where a side is missing).

    ``where`` restricts the work to some pairs (the others get 0).
    """
    out = np.zeros(len(ca), dtype=np.float32)
    both = (ca != 0) & (cb != 0)
    if where is not None:
        both &= where
    out[both & (ca == cb)] = 1.0
    todo = both & (ca != cb)
    if todo.any():
        # straight over the pairs: sorting them to compute each distinct pair once costs more
        # than the similarity itself
        left = strings[ca[todo]].tolist()
        right = strings[cb[todo]].tolist()
        workers = -1 if len(left) >= _PARALLEL_FROM else 1
        out[todo] = process.cpdist(left, right, scorer=JaroWinkler.similarity, workers=workers, dtype=np.float32)
    return out


def _dist(strings: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """OSA edit distance of code pairs (0 for equal, 99 where a side is missing)."""
    out = np.full(len(ca), 99, dtype=np.int32)
    both = (ca != 0) & (cb != 0)
    out[both & (ca == cb)] = 0
    todo = both & (ca != cb)
    if todo.any():
        left = strings[ca[todo]].tolist()
        right = strings[cb[todo]].tolist()
        workers = -1 if len(left) >= _PARALLEL_FROM else 1
        out[todo] = process.cpdist(left, right, scorer=OSA.distance, workers=workers, dtype=np.int32)
    return out


def _eq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x == y) & (x != 0)


def _both(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x != 0) & (y != 0)


def _any_eq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x), dtype=bool)
    for i in range(x.shape[1]):
        for j in range(y.shape[1]):
            out |= _eq(x[:, i], y[:, j])
    return out


def _has(x: np.ndarray) -> np.ndarray:
    return (x != 0).any(axis=1)


def _name_part(
    table: FeatureTable, a: np.ndarray, b: np.ndarray, part_a: str, part_b: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(exact, comparable, best similarity, tf code) of a name part in every representation.

    Kanji never meet romaji by spelling (they are incomparable, not different); kana readings
    and loose romaji keys meet across scripts, and are consulted only where the spelling says
    little.
    """
    names = table.strings("name")
    cjk = table.flag("name", "cjk", is_cjk)
    t_a, t_b = table.col(part_a)[a], table.col(part_b)[b]
    k_a, k_b = table.col(part_a + "_kana")[a], table.col(part_b + "_kana")[b]
    r_a, r_b = table.col(part_a + "_roma")[a], table.col(part_b + "_roma")[b]
    text_ok = _both(t_a, t_b) & (cjk[t_a] == cjk[t_b])
    kana_ok, roma_ok = _both(k_a, k_b), _both(r_a, r_b)
    exact = (_eq(t_a, t_b) & text_ok) | _eq(k_a, k_b) | _eq(r_a, r_b)
    comparable = text_ok | kana_ok | roma_ok
    sim = np.zeros(len(a), dtype=np.float32)
    idx = np.flatnonzero(text_ok & ~exact)
    sim[idx] = _sim(names, t_a[idx], t_b[idx])
    idx = np.flatnonzero(~exact & (kana_ok | roma_ok) & (sim < 0.95))
    if len(idx):
        sim[idx] = np.maximum.reduce([sim[idx], _sim(names, k_a[idx], k_b[idx]), _sim(names, r_a[idx], r_b[idx])])
    sim[exact] = 1.0
    tf = np.where(_eq(t_a, t_b) & text_ok, t_a, np.where(_eq(r_a, r_b), r_a, np.where(_eq(k_a, k_b), k_a, 0)))
    return exact, comparable, sim, tf.astype(np.int32)


def _bands(sim: np.ndarray, cuts: tuple[float, ...], base: int) -> np.ndarray:
    """Level ``base`` below every cut, one more per cut passed (cuts ascending)."""
    level = np.full(len(sim), base, dtype=np.int8)
    for i, cut in enumerate(cuts, start=1):
        level[sim >= cut] = base + i
    return level


def _initials(table: FeatureTable, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """One side's given name is a single Latin letter that starts the other's."""
    single = table.flag("name", "single", lambda x: len(x) == 1 and x.isascii())
    first = table.derive("name", "first", lambda x: x[:1])
    return _both(ca, cb) & (single[ca] | single[cb]) & (first[ca] == first[cb])


@lru_cache(maxsize=1)
def _name_lexicon() -> tuple[dict[str, int], np.ndarray, int]:
    """(known given name -> id, sorted nickname relation keys ``id_a * base + id_b`` both
    ways, base)."""
    ids = {name: i for i, name in enumerate(known_given_names(), start=1)}
    base = len(ids) + 1
    pairs = nickname_pairs()
    keys = {ids[a] * base + ids[b] for a, b in pairs} | {ids[b] * base + ids[a] for a, b in pairs}
    return ids, np.array(sorted(keys), dtype=np.int64), base


def _lexicon(table: FeatureTable, ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Given-name codes against the lexicon: (one is a nickname of the other, both are known
    names and distinct, at most one is a known name).

    Only a name and its own nickname count (Bob / Robert, Harry / Harold): two nicknames of a
    common third name (Kathy and Lena, both of Katherine) are different people as often as not.
    """
    ids, rel, base = _name_lexicon()
    strings = table.vocabs["name"].strings
    known = table.grown(
        ("given-name-id",), len(strings), lambda x, y: np.fromiter((ids.get(s, 0) for s in strings[x:y]), np.int64, y - x), np.int64
    )
    ia, ib = known[ca], known[cb]
    both = (ia != 0) & (ib != 0) & (ia != ib)
    related = np.zeros(len(ca), dtype=bool)
    ok = np.flatnonzero(both)
    if len(ok):
        related[ok] = np.isin(ia[ok] * base + ib[ok], rel)
    return related, both & ~related, (ia == 0) | (ib == 0)


def _day_month_swapped(table: FeatureTable, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """YYYYMMDD dates equal once day and month of one are swapped."""
    swapped = table.derive("birth", "dm", lambda s: s[:4] + s[6:8] + s[4:6] if len(s) == 8 else "", space="dates")
    same = table.derive("birth", "id", lambda s: s, space="dates")
    return (swapped[ca] != 0) & (swapped[ca] == same[cb])


def _names(
    table: FeatureTable, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(family level, given level, family tf code, given tf code, given conflict, given missing)."""
    f_exact, f_cmp, f_sim, f_tf = _name_part(table, a, b, "family", "family")
    g_exact, g_cmp, g_sim, g_tf = _name_part(table, a, b, "given", "given")
    # a swap can only explain a pair clearly better where the direct reading is poor, and
    # only if some part meets the other part's initial (checked in spelling and romaji)
    first = table.derive("name", "first", lambda x: x[:1])
    crossing = np.zeros(len(a), dtype=bool)
    for rep in ("", "_roma"):
        fa, ga = first[table.col("family" + rep)[a]], first[table.col("given" + rep)[a]]
        fb, gb = first[table.col("family" + rep)[b]], first[table.col("given" + rep)[b]]
        crossing |= ((fa == gb) & (fa != 0)) | ((ga == fb) & (ga != 0))
    poor = np.flatnonzero(((f_sim + g_sim) < 1.7) & crossing)
    n = len(a)
    cf_exact, cf_cmp, cg_exact, cg_cmp = (np.zeros(n, dtype=bool) for _ in range(4))
    cf_sim, cg_sim = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
    if len(poor):
        cf_exact[poor], cf_cmp[poor], cf_sim[poor], _ = _name_part(table, a[poor], b[poor], "family", "given")
        cg_exact[poor], cg_cmp[poor], cg_sim[poor], _ = _name_part(table, a[poor], b[poor], "given", "family")
    # a swap (typos and all) is taken when it explains the pair clearly better
    swapped = (cf_cmp | cg_cmp) & ((cf_sim + cg_sim) >= (f_sim + g_sim) + 0.3)
    f_exact = np.where(swapped, cf_exact, f_exact)
    f_cmp = np.where(swapped, cf_cmp, f_cmp)
    f_sim = np.where(swapped, cf_sim, f_sim)
    g_exact = np.where(swapped, cg_exact, g_exact)
    g_cmp = np.where(swapped, cg_cmp, g_cmp)
    g_sim = np.where(swapped, cg_sim, g_sim)
    # a name kept whole in one field (山田太郎) meets the same name split in two; two records
    # that both lack the same part ("Lisa" and "Lisa") agree on what they have, not on the rest
    split_a = (table.col("family")[a] != 0) & (table.col("given")[a] != 0)
    split_b = (table.col("family")[b] != 0) & (table.col("given")[b] != 0)
    whole = _eq(table.col("full")[a], table.col("full")[b]) & (split_a != split_b)
    fam = np.where(f_cmp, _bands(f_sim, (0.80, 0.90, 0.95), 1), 0).astype(np.int8)
    fam[f_exact | whole] = 5
    g_a = np.where(swapped, table.col("family")[a], table.col("given")[a])
    g_b = table.col("given")[b]
    initial = _initials(table, g_a, g_b) & g_cmp & ~g_exact
    giv = np.where(g_cmp, _bands(g_sim, (0.80, 0.90, 0.95), _G["jw80"] - 1), 0).astype(np.int8)
    # below 0.80 is "else": the levels between are reserved for an initial and a nickname
    giv[g_cmp & (giv == _G["jw80"] - 1)] = _G["else"]
    giv[initial & (giv < _G["jw80"])] = _G["initial"]
    # the English lexicon: a nickname says more than any spelling likeness (Harry / Harold,
    # Jamie / James); two distinct names are two names however alike they look (Patrick /
    # Patricia, Daniel / Danielle) unless one typo apart (Teresa / Theresa: maybe one name spelt
    # two ways); and what is no name but one typo from a name is that name misspelt (Jvlia /
    # Julia, Ky1e / Kyle) — unless both read as romaji, which the lexicon does not know (Yuki /
    # Yuko are two names)
    near = np.flatnonzero(g_cmp & ~g_exact)
    related, distinct, unknown = _lexicon(table, g_a[near], g_b[near])
    giv[near[related]] = _G["nickname"]
    level = giv[near]
    check = np.flatnonzero((distinct & (level >= _G["jw80"])) | (unknown & ~related & (level < _G["jw90"])))
    if len(check):
        rows = near[check]
        dist = _dist(table.strings("name"), g_a[rows], g_b[rows])
        giv[rows[distinct[check] & (dist >= 2)]] = _G["else"]
        latin4 = table.flag("name", "latin4", lambda x: len(x) >= 4 and x.isascii())
        roma_a = np.where(swapped[rows], table.col("family_roma")[a[rows]], table.col("given_roma")[a[rows]]) != 0
        roma_b = table.col("given_roma")[b[rows]] != 0
        typo = unknown[check] & (dist == 1) & latin4[g_a[rows]] & latin4[g_b[rows]] & ~(roma_a & roma_b)
        giv[rows[typo & (giv[rows] < _G["jw90"])]] = _G["jw90"]
    giv[g_exact | whole] = _G["exact"]
    # term frequencies adjust a direct exact agreement (f_tf is 0 where there is none)
    f_code = np.where(~swapped, f_tf, 0).astype(np.int32)
    g_code = np.where(~swapped, g_tf, 0).astype(np.int32)
    # different given names: below 0.80 in every script; or two different kanji spellings
    # whose readings do not agree (健一 / 健二), however close their romaji looks
    cjk = table.flag("name", "cjk", is_cjk)
    kanji_differ = _both(g_a, g_b) & cjk[g_a] & cjk[g_b] & (g_a != g_b) & ~g_exact
    explained = (giv == _G["initial"]) | (giv == _G["nickname"])
    conflict = g_cmp & ~whole & ~explained & ((giv <= _G["jw80"]) | kanji_differ)
    # one side has a given name, the other none: the surname and a shared address could be
    # anyone in the household
    has_a = _has_given(table, a, swapped)
    has_b = _has_given(table, b, np.zeros(len(b), dtype=bool))
    missing = (has_a != has_b) & ~whole & (fam >= 3)
    return fam, giv, f_code, g_code, conflict, missing


def _has_given(table: FeatureTable, rows: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    out = np.zeros(len(rows), dtype=bool)
    for rep in ("", "_kana", "_roma"):
        out |= np.where(swapped, table.col("family" + rep)[rows], table.col("given" + rep)[rows]) != 0
    return out


def _address(table: FeatureTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One level for the whole address.

    Postal code, town, street and house number move together: a person who moved disagrees
    on all of them at once, which is one piece of evidence, not four. Scored separately they
    would sink every record of someone who moved.
    """
    pa, pb = table.col("postal")[a], table.col("postal")[b]
    la, lb = table.col("locality")[a], table.col("locality")[b]
    sa, sb = table.col("street")[a], table.col("street")[b]
    ha, hb = table.col("house")[a], table.col("house")[b]
    ra, rb = table.col("region")[a], table.col("region")[b]
    area = _eq(pa, pb) | _eq(la, lb)
    idx = np.flatnonzero(~area & _both(la, lb))
    area[idx] = _sim(table.strings("locality"), la[idx], lb[idx]) >= 0.88
    street = _eq(sa, sb)
    idx = np.flatnonzero(~street & _both(sa, sb))
    street[idx] = _sim(table.strings("street"), sa[idx], sb[idx]) >= 0.88
    # "8203" against "8203 west farwell avenue": the number is all one side kept
    street |= ((sa == 0) != (sb == 0)) & _eq(ha, hb)
    known = _both(pa, pb) | _both(la, lb) | _both(sa, sb)
    street_known = _both(sa, sb) | _both(ha, hb)
    lvl = np.where(known | _both(ra, rb), 1, 0).astype(np.int8)
    lvl[_eq(ra, rb) & ~area & ~street] = 2
    lvl[area ^ street] = 3
    lvl[area & ~street & ~street_known] = 4  # the same town, no street to compare
    lvl[area & street] = 5
    lvl[area & street & _eq(ha, hb)] = 6
    lvl[_eq(sa, sb) & _eq(ha, hb) & _eq(pa, pb) & _eq(la, lb)] = 7
    return lvl


def compare(table: FeatureTable, a: np.ndarray, b: np.ndarray) -> PairLevels:
    """Levels of the pairs ``(a[i], b[i])`` of table rows for every comparison."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n = len(a)
    idx = {c: i for i, c in enumerate(COMPARISONS)}
    levels = np.zeros((len(COMPARISONS), n), dtype=np.int8)
    tf: dict[str, np.ndarray] = {}

    fam, giv, tf["family"], tf["given"], conflict, missing = _names(table, a, b)
    levels[idx["family"]] = fam
    levels[idx["given"]] = giv

    for comp in ("birth", "natid"):
        ca, cb = table.col(comp)[a], table.col(comp)[b]
        strings = table.strings(comp)
        dist = _dist(strings, ca, cb)
        close = dist == 1
        if comp == "birth":
            close |= _day_month_swapped(table, ca, cb)
        lvl = np.where(_both(ca, cb), 1, 0).astype(np.int8)
        if comp == "natid":
            # two random ids of seven or more digits are rarely within two edits
            lvl[_both(ca, cb) & (dist == 2)] = 2
        lvl[_both(ca, cb) & close] = len(LEVELS[comp]) - 2
        lvl[_eq(ca, cb)] = len(LEVELS[comp]) - 1
        levels[idx[comp]] = lvl

    # sets: any shared value agrees
    ea, eb = table.col("emails")[a], table.col("emails")[b]
    lvl = np.where(_has(ea) & _has(eb), 1, 0).astype(np.int8)
    lvl[(lvl > 0) & _any_eq(table.col("email_locals")[a], table.col("email_locals")[b])] = 2
    lvl[(lvl > 0) & _any_eq(ea, eb)] = 3
    levels[idx["email"]] = lvl
    ma, mb = table.col("mobiles")[a], table.col("mobiles")[b]
    la, lb = table.col("landlines")[a], table.col("landlines")[b]
    lvl = np.where((_has(ma) | _has(la)) & (_has(mb) | _has(lb)), 1, 0).astype(np.int8)
    lvl[(lvl > 0) & _any_eq(la, lb)] = 2
    mobile = (lvl > 0) & _any_eq(ma, mb)
    lvl[mobile] = 3
    levels[idx["phone"]] = lvl

    levels[idx["address"]] = _address(table, a, b)
    ca, cb = table.col("building")[a], table.col("building")[b]
    lvl = np.where(_both(ca, cb), _bands(_sim(table.strings("building"), ca, cb), (0.85,), 1), 0).astype(np.int8)
    lvl[_eq(ca, cb)] = 3
    levels[idx["building"]] = lvl

    # organisation: the name without its legal form, or a shared corporate domain
    oa, ob = table.col("org")[a], table.col("org")[b]
    da, db = table.col("org_domains")[a], table.col("org_domains")[b]
    lvl = np.where(_both(oa, ob) | (_has(da) & _has(db)), 1, 0).astype(np.int8)
    close = (_sim(table.strings("org"), oa, ob) >= 0.9) | _any_eq(da, db)
    lvl[(lvl > 0) & close] = 2
    lvl[_eq(oa, ob)] = 3
    levels[idx["org"]] = lvl

    personal = (levels[idx["email"]] == 3) | (levels[idx["natid"]] >= 2) | (levels[idx["birth"]] == 3)
    flags = conflict.astype(np.uint8) * GIVEN_CONFLICT
    flags |= personal.astype(np.uint8) * PERSONAL
    flags |= mobile.astype(np.uint8) * MOBILE
    flags |= missing.astype(np.uint8) * GIVEN_MISSING
    return PairLevels(levels=levels, tf_codes=tf, flags=flags)
