"""Records missing a name part: linked to the one person they can be, never to a household.

"Kharchenko" without a given name, at Kristy Kharchenko's address, is Kristy — unless Ivan
Kharchenko lives there too: then it could be either, and it goes to review. Likewise
"Brandon" without a surname at Brandon Towne's address, unless another Brandon lives there.
The pairs this decides, when nothing personal (e-mail, birth date, national id) agrees:

* one side has no given name, the surnames agree, and the pair scored a link (the
  missing-given-name guard caps it at review);
* one side has no family name, both have given names that do not conflict, and the pair
  scored at review or above.

Such a pair links when every other candidate of the partial record (scored at review or above
and holding the part it lacks) is linked directly to the pair's other side — all of them are
one person; otherwise it is a review pair, even one that scored a link. So a partial record
never glues two people together, whatever order they arrive in.

This is a function of the scored candidate pairs alone, so the batch resolver and the
incremental index (which keeps those pairs as its edges) decide alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from hub.identity.compare import GIVEN_CONFLICT, GIVEN_MISSING, PERSONAL
from hub.identity.model import LINK, REVIEW
from hub.identity.table import FeatureTable

UNIQUE_REASON = "one side lacks a name part: linked as the only person its other fields point to"
AMBIGUOUS_REASON = "one side lacks a name part and its other fields fit more than one person"


def lacking(table: FeatureTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(no given name, no family name) per row, in any script."""
    no_given = np.ones(len(rows), dtype=bool)
    no_family = np.ones(len(rows), dtype=bool)
    for rep in ("", "_kana", "_roma"):
        no_given &= table.col("given" + rep)[rows] == 0
        no_family &= table.col("family" + rep)[rows] == 0
    return no_given, no_family


def partial_pairs(
    table: FeatureTable, a: np.ndarray, b: np.ndarray, prob: np.ndarray, decision: np.ndarray, flags: np.ndarray, high: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs this module decides: (indices, whether ``a`` is the partial side, whether
    the part missing is the given name)."""
    # only pairs at review or above qualify: look at those alone (a few of millions)
    live = np.flatnonzero((decision >= REVIEW) & ((flags & PERSONAL) == 0))
    a, b, prob, flags = a[live], b[live], prob[live], flags[live]
    g_a, f_a = lacking(table, a)
    g_b, f_b = lacking(table, b)
    given = ((flags & GIVEN_MISSING) != 0) & (prob >= high)
    family = (f_a != f_b) & ~g_a & ~g_b & ((flags & GIVEN_CONFLICT) == 0)
    idx = np.flatnonzero(given | family)
    # exclusive: a missing given name is flagged only where both surnames are known
    a_partial = np.where(given[idx], g_a[idx], f_a[idx])
    return live[idx], a_partial, given[idx]


def unique_person(
    partial: int,
    other: int,
    partners: Iterable[int],
    has_part: Callable[[int], bool],
    linked: Callable[[int, int], bool],
) -> bool:
    """Whether every candidate of ``partial`` holding the part it lacks is ``other`` or linked to it."""
    return all(linked(other, q) for q in partners if q != other and has_part(q))


def decide(
    table: FeatureTable, a: np.ndarray, b: np.ndarray, prob: np.ndarray, decision: np.ndarray, flags: np.ndarray, high: float
) -> np.ndarray:
    """The decisions of all candidate pairs (batch) with the partial pairs decided here."""
    out = decision.copy()
    idx, a_partial, by_given = partial_pairs(table, a, b, prob, decision, flags, high)
    if not len(idx):
        return out
    partial = np.where(a_partial, a[idx], b[idx])
    other = np.where(a_partial, b[idx], a[idx])
    # the partial records' candidates: every pair at review or above touching one of them
    wanted = np.zeros(table.n, dtype=bool)
    wanted[partial] = True
    live = np.flatnonzero((decision >= REVIEW) & (wanted[a] | wanted[b]))
    partners: dict[int, list[int]] = {}
    for x, y in zip(a[live].tolist(), b[live].tolist()):
        if wanted[x]:
            partners.setdefault(x, []).append(y)
        if wanted[y]:
            partners.setdefault(y, []).append(x)
    n = np.int64(max(table.n, 1))
    link = np.flatnonzero(decision == LINK)
    linked_keys = np.sort(np.minimum(a[link], b[link]) * n + np.maximum(a[link], b[link]))
    no_given, no_family = lacking(table, np.arange(table.n))

    def linked(x: int, y: int) -> bool:
        key = min(x, y) * n + max(x, y)
        i = int(np.searchsorted(linked_keys, key))
        return i < len(linked_keys) and int(linked_keys[i]) == key

    for k, r, s, lacks_given in zip(idx.tolist(), partial.tolist(), other.tolist(), by_given.tolist()):
        missing = no_given if lacks_given else no_family
        one = unique_person(r, s, partners.get(r, ()), lambda q: not missing[q], linked)
        out[k] = LINK if one else REVIEW
    return out
