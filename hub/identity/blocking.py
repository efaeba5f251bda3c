"""Candidate pairs: records that share a blocking key, or sit close in name order.

Several keys, so that a typo in one field does not lose a pair: kana/romaji surname + given
initial, given name + surname initial, the joined name, e-mail local part, phone, postal code +
surname, organisation + surname, birth date + an initial, national id; and a sorted
neighbourhood over names. A key shared by more than ``max_block`` records (佐藤 alone, a
switchboard number) yields no pairs: the other keys must find those.

Which pairs are candidates is a function of the set of records only — never of the order they
arrived in — so the incremental index finds the same pairs as a batch run.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hub.identity.features import Features

KINDS: tuple[str, ...] = ("name", "full", "local", "phone", "postal", "org", "birth", "natid")
"""Blocking-key kinds (each also names an EM session)."""

IMPLIES: dict[str, tuple[str, ...]] = {
    "name": ("family", "given"),
    "full": ("family", "given"),
    "snm": ("family", "given"),
    "local": ("email",),
    "phone": ("phone",),
    "postal": ("postal", "family"),
    "org": ("org", "family"),
    "birth": ("birth", "family", "given"),
    "natid": ("natid",),
}
"""Comparisons a key forces to agree: EM leaves them out of the session on that key's pairs."""

SNM = "snm"


def _initial(s: str) -> str:
    return s[:1]


def record_keys(f: Features) -> list[tuple[str, str]]:
    """The (kind, key) blocking keys of one record.

    Surname and given-name keys share one namespace (``name``), so that a record whose parts
    were swapped meets the other; the birth-date keys take either initial for the same reason.
    """
    keys: list[tuple[str, str]] = []
    fams = (f.family, f.family_kana, f.family_roma)
    givs = (f.given, f.given_kana, f.given_roma)
    for fam, giv in zip(fams, givs):
        if fam:
            keys.append(("name", f"{fam}|{_initial(giv)}"))
        if giv:
            keys.append(("name", f"{giv}|{_initial(fam)}"))
    if f.full:
        keys.append(("full", f.full))
    keys.extend(("local", e) for e in f.email_locals)
    keys.extend(("phone", p) for p in (*f.mobiles, *f.landlines))
    for fam in dict.fromkeys(x for x in fams if x):
        if f.postal:
            keys.append(("postal", f"{f.postal}|{fam}"))
        if f.org:
            keys.append(("org", f"{f.org}|{fam}"))
        keys.extend(("org", f"@{d}|{fam}") for d in f.org_domains)
    if f.birth:
        for initial in {_initial(f.given), _initial(f.family)}:
            keys.append(("birth", f"{f.birth}|{initial}"))
    if f.natid:
        keys.append(("natid", f.natid))
        if len(f.natid) >= 6:
            # deletion neighbourhood: one typo or transposition still shares a key
            keys.extend(("natid", f"~{f.natid[:i]}{f.natid[i + 1 :]}") for i in range(len(f.natid)))
    return list(dict.fromkeys(keys))


def snm_key(f: Features) -> str:
    """The sort key of the sorted neighbourhood: romaji (else folded) surname, then given."""
    family = f.family_roma or f.family
    given = f.given_roma or f.given
    # the smaller part first, so that a swapped record sorts beside the other
    return "\t".join(sorted((family, given))) if family or given else ""


class KeyCollector:
    """Blocking keys of many rows, interned as they arrive (the batch path)."""

    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], int] = {}
        self.rows: dict[str, list[int]] = {k: [] for k in KINDS}
        self.keys: dict[str, list[int]] = {k: [] for k in KINDS}
        self.snm: list[tuple[str, str, int]] = []

    def add(self, row: int, f: Features) -> None:
        """Collect the keys of ``f``, stored at ``row``."""
        codes = self.codes
        for kk in record_keys(f):
            code = codes.get(kk)
            if code is None:
                code = codes[kk] = len(codes)
            self.rows[kk[0]].append(row)
            self.keys[kk[0]].append(code)
        sk = snm_key(f)
        if sk:
            self.snm.append((sk, f.record_id, row))

def _pairs_in_groups(keys: np.ndarray, rows: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows sharing a key, for groups of 2..max_block rows."""
    order = np.lexsort((rows, keys))
    keys, rows = keys[order], rows[order]
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    ok = (sizes >= 2) & (sizes <= max_block)
    group_end = np.repeat(starts + sizes, sizes)
    keep = np.repeat(ok, sizes)
    pos = np.flatnonzero(keep)
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    d = 1
    while len(pos):
        pos = pos[pos + d < group_end[pos]]
        left.append(rows[pos])
        right.append(rows[pos + d])
        d += 1
    return np.concatenate(left), np.concatenate(right)


def candidate_pairs(
    keys: KeyCollector, n_rows: int, max_block: int, window: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Every candidate pair once, as rows ``a < b``, and per key kind the pairs it found.

    The third value maps each kind (``KINDS`` and ``"snm"``) to indices into ``a``/``b``: the
    EM sessions learn from all pairs a kind finds, not only those no other kind found first.
    """
    a_parts: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []
    kinds: list[str] = []
    for kind in KINDS:
        if not keys.rows[kind]:
            continue
        a, b = _pairs_in_groups(np.array(keys.keys[kind], dtype=np.int64), np.array(keys.rows[kind], dtype=np.int64), max_block)
        a_parts.append(a)
        b_parts.append(b)
        kinds.append(kind)
    snm = sorted(keys.snm)
    order = np.array([r for _, _, r in snm], dtype=np.int64)
    if len(order) > 1:
        span = range(1, min(window, len(order)))
        a_parts.append(np.concatenate([order[:-d] for d in span]))
        b_parts.append(np.concatenate([order[d:] for d in span]))
        kinds.append(SNM)
    if not a_parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, {}
    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    del a, b
    uniq, inverse = np.unique(lo * np.int64(max(n_rows, 1)) + hi, return_inverse=True)
    del lo, hi
    by_kind: dict[str, np.ndarray] = {}
    start = 0
    for kind, part in zip(kinds, a_parts):
        by_kind[kind] = np.unique(inverse[start : start + len(part)])
        start += len(part)
    n = np.int64(max(n_rows, 1))
    return uniq // n, uniq % n, by_kind


def iter_kind_names() -> Iterator[str]:
    """Kinds in the order ``candidate_pairs`` numbers them."""
    yield from KINDS
    yield SNM
