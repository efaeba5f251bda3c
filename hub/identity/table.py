"""Columnar, integer-coded storage of features: what blocking and comparison read.

Every string feature is replaced by a code from a :class:`Vocab` (0 means missing), so that
equality is an integer comparison over millions of pairs, and a string similarity is computed
once per distinct pair of values. The batch resolver and the incremental index share this one
representation, which is why they score a pair identically.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

import numpy as np

from hub.identity.features import Features

SINGLE: dict[str, str] = {
    # column -> vocabulary; the name parts share one so that a swap compares codes directly
    "family": "name", "given": "name", "family_kana": "name", "given_kana": "name",
    "family_roma": "name", "given_roma": "name", "full": "name",
    "birth": "birth", "natid": "natid", "postal": "postal", "region": "region",
    "locality": "locality", "street": "street", "house": "house", "building": "building",
    "org": "org",
}
MULTI: dict[str, tuple[str, int]] = {
    # column -> (vocabulary, width kept)
    "emails": ("email", 3), "email_locals": ("local", 3), "mobiles": ("phone", 2),
    "landlines": ("phone", 2), "org_domains": ("domain", 2),
}


class Vocab:
    """Strings <-> dense integer codes; code 0 is the empty string (missing)."""

    __slots__ = ("codes", "strings")

    def __init__(self, strings: Iterable[str] = ()) -> None:
        self.strings: list[str] = [""]
        self.codes: dict[str, int] = {"": 0}
        for s in strings:
            self.code(s)

    def code(self, value: str) -> int:
        """The code of ``value``, assigned on first sight."""
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.strings)
            self.strings.append(value)
        return code

    def __len__(self) -> int:
        return len(self.strings)

    def encode(self, values: list[str]) -> np.ndarray:
        """Codes of many values at once, new ones assigned in order of first sight."""
        codes = self.codes
        for value in dict.fromkeys(values):
            if value not in codes:
                codes[value] = len(self.strings)
                self.strings.append(value)
        return np.fromiter(map(codes.__getitem__, values), dtype=np.int32, count=len(values))

    def array(self) -> np.ndarray:
        """The strings as an object array, indexable by code arrays."""
        return np.array(self.strings, dtype=object)


@contextmanager
def bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made.

    Building a million rows creates tens of millions of strings and tuples, none of them in a
    cycle; left on, the collector rescans them again and again and more than doubles the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _extra(record_id: str, identifiers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    # a million rows each holding only their own ref would cost a million tuples for nothing
    if len(identifiers) == 1 and identifiers[0] == ("ref", record_id):
        return ()
    return tuple(i for i in identifiers if i != ("ref", record_id))


class FeatureTable:
    """Growable integer columns, one row per record (rows are never reused).

    Attributes:
        vocabs: One vocabulary per value family (names, e-mails, phones…).
        record_ids: Row -> record id.
        identifiers: Row -> the record's (kind, value) identifiers other than its own ref
            (``("ref", record_id)``, implied), for the deterministic layer; :meth:`idents`
            gives them all. The rest of a record's features live in the columns only.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.vocabs: dict[str, Vocab] = {v: Vocab() for v in {*SINGLE.values(), *(m[0] for m in MULTI.values())}}
        self.cols: dict[str, np.ndarray] = {c: np.zeros(capacity, dtype=np.int32) for c in SINGLE}
        for col, (_, width) in MULTI.items():
            self.cols[col] = np.zeros((capacity, width), dtype=np.int32)
        self.alive = np.zeros(capacity, dtype=bool)
        self.record_ids: list[str] = []
        self.identifiers: list[tuple[tuple[str, str], ...]] = []
        self.n = 0
        self.derived: dict[Any, Any] = {}
        """Per-vocabulary arrays other modules derive and extend (term frequencies)."""

    def __len__(self) -> int:
        return self.n

    def _grow(self, need: int) -> None:
        cap = len(self.alive)
        if need <= cap:
            return
        # by a quarter, not double: a million-row table would hold up to half its columns
        # empty (still O(1) amortised per row)
        self._resize(max(need, cap + max(cap // 4, 1024)))

    def _resize(self, new: int) -> None:
        keep = min(new, len(self.alive))
        for name, col in self.cols.items():
            grown = np.zeros((new, *col.shape[1:]), dtype=col.dtype)
            grown[:keep] = col[:keep]
            self.cols[name] = grown
        alive = np.zeros(new, dtype=bool)
        alive[:keep] = self.alive[:keep]
        self.alive = alive

    def compact(self) -> None:
        """Drop the spare capacity (after a bulk load: the next append grows it again)."""
        if len(self.alive) > self.n:
            self._resize(max(self.n, 1))

    def append(self, feats: Features) -> int:
        """Add one record's features; returns its row."""
        row = self.n
        self._grow(row + 1)
        for col, vocab in SINGLE.items():
            self.cols[col][row] = self.vocabs[vocab].code(getattr(feats, col))
        for col, (vocab, width) in MULTI.items():
            values = getattr(feats, col)[:width]
            target = self.cols[col][row]
            target[:] = 0
            for i, value in enumerate(values):
                target[i] = self.vocabs[vocab].code(value)
        self.alive[row] = True
        self.record_ids.append(feats.record_id)
        self.identifiers.append(_extra(feats.record_id, feats.identifiers))
        self.n = row + 1
        return row

    def extend(self, feats: Sequence[Features]) -> list[int]:
        """Append many records at once (the batch path); returns their rows."""
        fields = {c: list(map(attrgetter(c), feats)) for c in (*SINGLE, *MULTI)}
        return self.extend_columns(fields, [f.record_id for f in feats], [f.identifiers for f in feats])

    def extend_columns(
        self, fields: Mapping[str, list[Any]], record_ids: list[str], identifiers: list[tuple[tuple[str, str], ...]]
    ) -> list[int]:
        """Append rows given column-wise: every :data:`SINGLE` and :data:`MULTI` field as a list."""
        start, added = self.n, len(record_ids)
        self._grow(start + added)
        for col, vocab in SINGLE.items():
            self.cols[col][start : start + added] = self.vocabs[vocab].encode(fields[col])
        for col, (vocab, width) in MULTI.items():
            values = fields[col]
            target = self.cols[col]
            target[start : start + added] = 0
            if not any(map(len, values)):
                continue
            for i in range(width):
                column = [v[i] if len(v) > i else "" for v in values]
                target[start : start + added, i] = self.vocabs[vocab].encode(column)
        self.record_ids.extend(record_ids)
        self.identifiers.extend(map(_extra, record_ids, identifiers))
        self.alive[start : start + added] = True
        self.n = start + added
        return list(range(start, start + added))

    def idents(self, row: int) -> tuple[tuple[str, str], ...]:
        """Every identifier of a row, its own ref first."""
        return (("ref", self.record_ids[row]), *self.identifiers[row])

    def kill(self, row: int) -> None:
        """Mark a row deleted (its codes stay, so old explanations still read)."""
        self.alive[row] = False
        self.identifiers[row] = ()

    def col(self, name: str) -> np.ndarray:
        """The live part of a column."""
        return self.cols[name][: self.n]

    def grown(self, key: Any, length: int, compute: Callable[[int, int], np.ndarray], dtype: Any) -> np.ndarray:
        """A per-code array kept in step with a vocabulary: ``compute(start, stop)`` fills the
        codes added since the last call. Capacity doubles, so adding one record costs O(1)."""
        backing, filled = self.derived.get(key, (None, 0))
        if backing is None or filled < length:
            part = np.asarray(compute(filled, length), dtype=dtype)
            if backing is None or len(backing) < length:
                grown = np.empty((max(length, 2 * (0 if backing is None else len(backing)), 16), *part.shape[1:]), dtype=dtype)
                if backing is not None:
                    grown[:filled] = backing[:filled]
                backing = grown
            backing[filled:length] = part
            self.derived[key] = (backing, length)
        return backing[:length]

    def strings(self, vocab: str) -> np.ndarray:
        """Code -> string for one vocabulary as an object array."""
        strings = self.vocabs[vocab].strings
        return self.grown(("strings", vocab), len(strings), lambda a, b: np.array(strings[a:b], dtype=object), object)

    def flag(self, vocab: str, name: str, fn: Callable[[str], bool]) -> np.ndarray:
        """Code -> ``fn(value)`` for one vocabulary, as a bool array kept up to date."""
        strings = self.vocabs[vocab].strings
        return self.grown(
            ("flag", vocab, name), len(strings), lambda a, b: np.fromiter((fn(x) for x in strings[a:b]), dtype=bool, count=b - a), bool
        )

    def derive(self, vocab: str, name: str, fn: Callable[[str], str], space: str | None = None) -> np.ndarray:
        """Code -> code of ``fn(value)`` in a private vocabulary (``fn("")`` must be ``""``: 0).

        Derivations naming the same ``space`` share one vocabulary, so their codes compare.
        """
        strings = self.vocabs[vocab].strings
        index = self.derived.setdefault(("space", vocab, space or name), {"": 0})
        return self.grown(
            ("derived", vocab, name),
            len(strings),
            lambda a, b: np.fromiter((index.setdefault(fn(x), len(index)) for x in strings[a:b]), dtype=np.int64, count=b - a),
            np.int64,
        )

    def value(self, col: str, row: int) -> Any:
        """The decoded value of one cell (a string, or a tuple for multi-valued columns)."""
        if col in SINGLE:
            return self.vocabs[SINGLE[col]].strings[int(self.cols[col][row])]
        vocab = self.vocabs[MULTI[col][0]]
        return tuple(vocab.strings[int(c)] for c in self.cols[col][row] if c)
