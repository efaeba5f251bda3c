"""Candidate pairs: records that share a blocking key, or sit close in name order.

Several keys, so that a typo in one field does not lose a pair: surname + given initial (and the
reverse) in every script, the joined name, e-mail local part, phone, postal code
+ a name, street + house number (within a postal code, and within a town), organisation or
corporate domain + surname, birth date + an
initial, national id and (within a postal code) its one-deletion variants; and a sorted neighbourhood over names. A
key shared by more than ``max_block`` records (佐藤 alone, a switchboard number) yields no
pairs: the other keys must find those.

Keys are 64-bit integers built from the table's value codes, so a million records are keyed
with a few array operations; the incremental index keys one row with the same function.
Which pairs are candidates is a function of the set of records only, never of their order.
"""

from __future__ import annotations

import numpy as np

from hub.identity.config import ResolverConfig
from hub.identity.table import FeatureTable

KINDS: tuple[str, ...] = ("name", "local", "phone", "address", "postal", "org", "birth", "natid")
"""Blocking-key kinds (each also names an EM session)."""

SNM = "snm"
"""The sorted-neighbourhood "kind"."""

IMPLIES: dict[str, tuple[str, ...]] = {
    # a name key fixes one name part and only the other's initial: the other part still
    # varies, and EM needs it beside the address to tell a person from a household
    "name": ("family",),
    "snm": ("family", "given"),
    "local": ("email",),
    "phone": ("phone",),
    "address": ("address",),
    "postal": ("address", "family", "given"),
    "org": ("org", "family"),
    "birth": ("birth", "family", "given"),
    "natid": ("natid",),
}
"""Comparisons a key forces to agree: EM leaves them out of the session on that key's pairs."""

_REPS = ("", "_kana", "_roma")
_MAX_NATID_DELETIONS = 12


def _tag(kind: str, variant: int) -> int:
    return KINDS.index(kind) * 8 + variant


def _key(tag: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.int64(tag) << np.int64(56)) | (a.astype(np.int64) << np.int64(28)) | b.astype(np.int64)


def row_keys(table: FeatureTable, rows: np.ndarray, only: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(key, row) for every blocking key of ``rows``, each (key, row) once, sorted by key.

    The kind of a key is ``key >> 59`` (an index into :data:`KINDS`); ``only`` limits the keys
    to one kind (the batch path keys kind by kind to bound its memory). A row never yields the
    same key twice — a name equal in two scripts is skipped at the source — so sorting by key
    alone groups the blocks.
    """
    rows = np.asarray(rows, dtype=np.int64)
    # rows as int32 where they fit: a million records carry some ten million keys
    owned = rows.astype(np.int32) if table.n < 2**31 else rows
    col = table.col
    first = table.derive("name", "first", lambda s: s[:1])
    keys: list[np.ndarray] = []
    owners: list[np.ndarray] = []

    def wanted(kind: str) -> bool:
        return only is None or only == kind

    def add(tag: int, a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> None:
        keys.append(_key(tag, a[ok], b[ok]))
        owners.append(owned[ok])

    zero = np.zeros(len(rows), dtype=np.int64)
    reps = [(col("family" + r)[rows], col("given" + r)[rows]) for r in _REPS]

    def fresh(i: int, values: np.ndarray, pick: int) -> np.ndarray:
        """Rows where representation ``i`` differs from every earlier one (no repeated key)."""
        ok = values != 0
        for j in range(i):
            ok &= values != reps[j][pick]
        return ok

    if wanted("name"):
        for i, (fam, giv) in enumerate(reps):
            # surname and given name share the tag, so that a swapped record meets the other
            f_ok, g_ok = fresh(i, fam, 0), fresh(i, giv, 1)
            add(_tag("name", 0), fam, first[giv], f_ok)
            add(_tag("name", 0), giv, first[fam], g_ok & ~((giv == fam) & f_ok))
        full = col("full")[rows]
        add(_tag("name", 1), full, zero, full != 0)
    if wanted("local"):
        for i in range(col("email_locals").shape[1]):
            local = col("email_locals")[rows, i]
            add(_tag("local", 0), local, zero, local != 0)
    if wanted("phone"):
        for name in ("mobiles", "landlines"):
            for i in range(col(name).shape[1]):
                phone = col(name)[rows, i]
                add(_tag("phone", 0), phone, zero, phone != 0)
    postal = col("postal")[rows]
    if wanted("address"):
        street, house = col("street")[rows], col("house")[rows]
        # street + house number within a postal code, and within a town: a postal code
        # mistyped or left out must not lose the pair, nor a town misspelt
        for variant, area in enumerate((postal, col("locality")[rows])):
            spot = (house.astype(np.int64) * np.int64(0x9E3779B1) ^ area.astype(np.int64) * np.int64(0x85EBCA77)) & np.int64((1 << 28) - 1)
            add(_tag("address", variant), street, spot, (street != 0) & (house != 0) & (area != 0))
    if wanted("postal"):
        seen: list[np.ndarray] = []
        for i, (fam, giv) in enumerate(reps):
            for part in (fam, giv):
                ok = (postal != 0) & (part != 0)
                for earlier in seen:
                    ok &= part != earlier
                add(_tag("postal", 1), postal, part, ok)
                seen.append(part)
    if wanted("org"):
        org = col("org")[rows]
        domains = [col("org_domains")[rows, i] for i in range(col("org_domains").shape[1])]
        for i, (fam, _) in enumerate(reps):
            f_ok = fresh(i, fam, 0)
            add(_tag("org", 0), org, fam, (org != 0) & f_ok)
            for dom in domains:
                add(_tag("org", 1), dom, fam, (dom != 0) & f_ok)
    if wanted("birth"):
        birth = col("birth")[rows]
        # with either initial (one tag, so a swapped record meets the other): on its own a
        # birth date is shared by thousands in a big file
        gi, fi = first[reps[0][1]], first[reps[0][0]]
        add(_tag("birth", 0), birth, gi, birth != 0)
        add(_tag("birth", 0), birth, fi, (birth != 0) & (fi != gi))
    if wanted("natid"):
        natid = col("natid")[rows]
        add(_tag("natid", 0), natid, zero, natid != 0)
        deletions, at = _deletion_hashes(table, natid)
        mask56 = np.int64((1 << 56) - 1)
        for i in range(deletions.shape[1]):
            # deletion neighbourhood (one typo or transposition still shares a key), within a
            # postal code: across a whole country, random ids collide once a digit is dropped;
            # deleting either of two equal neighbours gives the same id: that key only once
            hashed = deletions[at, i]
            ok = (hashed != 0) & (postal != 0)
            if i:
                ok &= hashed != deletions[at, i - 1]
            mixed = (hashed[ok] ^ (postal[ok].astype(np.int64) * np.int64(0x2545F4914F6CDD1D))) & mask56
            keys.append((np.int64(_tag("natid", 1)) << np.int64(56)) | mixed)
            owners.append(owned[ok])
    return _dedupe(keys, owners)


def _dedupe(keys: list[np.ndarray], owners: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated and sorted by key (the lists are emptied: their parts are not kept twice)."""
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = np.concatenate(keys)
    keys.clear()
    owner = np.concatenate(owners)
    owners.clear()
    order = np.argsort(key)
    key = key[order]
    return key, owner[order]


def _deletion_hashes(table: FeatureTable, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct national id among ``codes``, a 56-bit hash of the id with each one
    character deleted, and per code its line: ``matrix[at[k], i]`` belongs to ``codes[k]``.

    Ids shorter than six characters get zeros (too short for a typo to be told from another
    id). Computed over fixed-width bytes, so a million ids take a few array operations; and
    for the codes asked only, not kept per vocabulary: twelve hashes per id would stay
    resident for the one row an incremental add keys.
    """
    strings = table.vocabs["natid"].strings
    distinct, at = np.unique(codes, return_inverse=True)
    return _deletion_matrix([strings[c] for c in distinct.tolist()]), at.reshape(-1)


def _deletion_matrix(strings: list[str]) -> np.ndarray:
    width = _MAX_NATID_DELETIONS
    raw = np.array([s.encode()[:width] if len(s) >= 6 else b"" for s in strings], dtype=f"S{width}")
    chars = raw.view(np.uint8).reshape(len(strings), width)
    lengths = np.array([min(len(s), width) if len(s) >= 6 else 0 for s in strings])
    out = np.zeros((len(strings), width), dtype=np.int64)
    mask56 = np.uint64((1 << 56) - 1)
    for i in range(width):
        h = np.full(len(strings), np.uint64(1469598103934665603), dtype=np.uint64)
        with np.errstate(over="ignore"):
            # FNV over the characters but the i-th, one column at a time (no copy of them all)
            for j in range(width):
                if j != i:
                    h = (h ^ chars[:, j].astype(np.uint64)) * np.uint64(1099511628211)
        out[:, i] = np.where(i < lengths, (h & mask56).astype(np.int64), 0)
    # position i of a shorter id deletes nothing: that column stays 0 and is skipped
    return out


def block_cap(key: int, config: ResolverConfig) -> int:
    """How many records a block of ``key`` may hold and still yield pairs (name keys: fewer)."""
    return config.max_name_block if key >> 59 == KINDS.index("name") else config.max_block


def kind_of_key(key: np.ndarray) -> np.ndarray:
    """Index into :data:`KINDS` of each key."""
    return (key >> np.int64(59)).astype(np.int64)


def snm_sort_key(table: FeatureTable, row: int) -> tuple[str, str, str] | None:
    """The sorted-neighbourhood key of one row: its name parts (smaller first), then its id.

    Romaji where the record has it, else the folded text; the smaller part first, so that a
    swapped record sorts beside the other.
    """
    fam = table.value("family_roma", row) or table.value("family", row)
    giv = table.value("given_roma", row) or table.value("given", row)
    if not (fam or giv):
        return None
    lo, hi = sorted((fam, giv))
    return lo, hi, table.record_ids[row]


def _snm_order(table: FeatureTable, rows: np.ndarray) -> np.ndarray:
    """Rows with a name, in sorted-neighbourhood order (the order :func:`snm_sort_key` gives)."""
    col = table.col
    fam = np.where(col("family_roma")[rows] != 0, col("family_roma")[rows], col("family")[rows])
    giv = np.where(col("given_roma")[rows] != 0, col("given_roma")[rows], col("given")[rows])
    strings = table.vocabs["name"].strings
    rank = np.empty(len(strings), dtype=np.int64)
    rank[np.array(sorted(range(len(strings)), key=strings.__getitem__), dtype=np.int64)] = np.arange(len(strings))
    rf, rg = rank[fam], rank[giv]
    lo, hi = np.minimum(rf, rg), np.maximum(rf, rg)
    keep = (fam != 0) | (giv != 0)
    rows, lo, hi = rows[keep], lo[keep], hi[keep]
    # ties on the names are broken by record id, as the index's sorted list does
    ids = table.record_ids
    by_id = np.empty(len(rows), dtype=np.int64)
    by_id[np.array(sorted(range(len(rows)), key=lambda i: ids[rows[i]]), dtype=np.int64)] = np.arange(len(rows))
    return rows[np.lexsort((by_id, hi, lo))]


def _pairs_in_groups(keys: np.ndarray, rows: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows sharing a key, for groups of 2..max_block rows (``keys`` sorted)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # ``keys`` come sorted from :func:`row_keys`
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    ok = (sizes >= 2) & (sizes <= max_block)
    # only the positions in groups that make pairs (most keys are held by one row), each
    # with the end of its group
    starts, sizes = starts[ok], sizes[ok]
    end = np.repeat(starts + sizes, sizes)
    pos = np.arange(len(end)) + np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    d = 1
    while len(pos):
        keep = pos + d < end
        pos, end = pos[keep], end[keep]
        left.append(rows[pos])
        right.append(rows[pos + d])
        d += 1
    if not left:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(left), np.concatenate(right)


def _distinct(codes: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    if len(codes) < 2:
        return codes
    keep = np.empty(len(codes), dtype=bool)
    keep[0] = True
    np.not_equal(codes[1:], codes[:-1], out=keep[1:])
    return codes[keep]


def _pair_codes(a: np.ndarray, b: np.ndarray, n: np.int64) -> np.ndarray:
    """Pairs as sorted distinct codes ``min * n + max`` (one int64 per pair)."""
    codes = np.minimum(a, b).astype(np.int64) * n
    codes += np.maximum(a, b)
    codes.sort()
    return _distinct(codes)


def candidate_pairs(
    table: FeatureTable, max_block: int, window: int, max_name_block: int | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Every candidate pair of live rows once, as ``a < b``, and per kind the pairs it found.

    The third value maps each kind (:data:`KINDS` and ``"snm"``) to indices into ``a``/``b``:
    the EM sessions learn from all pairs a kind finds, not only those no other kind found first.
    Rows and indices are int32 when the table allows: at a million records the pairs are the
    bulk of a run's memory.
    """
    rows = np.flatnonzero(table.alive[: table.n])
    n = np.int64(max(table.n, 1))
    # each kind's pairs as sorted distinct codes, so that only the codes outlive the kind
    found: list[tuple[str, np.ndarray]] = []
    for name in KINDS:
        key, owner = row_keys(table, rows, only=name)
        if len(key):
            cap = max_name_block if name == "name" and max_name_block else max_block
            a, b = _pairs_in_groups(key, owner, cap)
            del key, owner
            found.append((name, _pair_codes(a, b, n)))
            del a, b
    order = _snm_order(table, rows)
    if len(order) > 1:
        span = range(1, min(window, len(order)))
        left, right = np.concatenate([order[:-d] for d in span]), np.concatenate([order[d:] for d in span])
        found.append((SNM, _pair_codes(left, right, n)))
        del left, right
    del order
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, {}
    every = np.concatenate([codes for _, codes in found])
    every.sort()
    uniq = _distinct(every)
    del every
    small = np.int32 if max(len(uniq), table.n) < 2**31 else np.int64
    by_kind: dict[str, np.ndarray] = {}
    while found:
        name, codes = found.pop(0)
        by_kind[name] = np.searchsorted(uniq, codes).astype(small)
        del codes
    a = (uniq // n).astype(small)
    b = (uniq % n).astype(small)
    return a, b, by_kind
