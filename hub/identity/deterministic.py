"""The deterministic layer: an identifier graph over strong identifiers, with guards.

After Segment Unify and RudderStack's id stitcher: records sharing a strong identifier —
cross-tool id, the hub's key, a configured strong id, a personal e-mail, a mobile number — are
one entity, applied kind by kind in priority order. Guards keep a value from linking:

* blocklisted values and placeholders never get this far (:mod:`hub.identity.features`);
* a value carried by more than ``max_identifier_group`` records is a shared value;
* a value whose carriers, not yet joined by a stronger identifier, have incompatible names is a
  shared line or mailbox (a family's mobile, a couple's address): one e-mail -> at most one
  person. A marriage changes the family name, not the given name, so it stays compatible.

Each phase judges every value against the components as they stood when the phase began and
applies the accepted ones together, so the outcome does not depend on any order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hub.identity.cluster import UnionFind
from hub.identity.compare import COMPARISONS, GIVEN_CONFLICT, compare
from hub.identity.config import ResolverConfig
from hub.identity.table import FeatureTable

Ident = tuple[str, str]
_FAMILY = COMPARISONS.index("family")
_GIVEN = COMPARISONS.index("given")
UNCHECKED_KINDS = frozenset({"ref"})
"""A cross-tool id is an explicit statement by a tool: it is not second-guessed by names."""


@dataclass(frozen=True, slots=True)
class DetLink:
    """Rows ``a`` and ``b`` are one entity because both carry ``ident``."""

    a: int
    b: int
    ident: Ident


def kind_of(ident: Ident) -> str:
    """The priority bucket of an identifier: ``id:<scheme>`` counts as ``id``."""
    kind = ident[0]
    return "id" if kind.startswith("id:") else kind


def incompatible_pairs(table: FeatureTable, pairs: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Pairs of rows whose names say they are different people (both orders included)."""
    if not pairs:
        return set()
    a = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    b = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    pl = compare(table, a, b)
    given, family = pl.levels[_GIVEN], pl.levels[_FAMILY]
    # a surname alone decides only when no given name can be compared
    bad = ((pl.flags & GIVEN_CONFLICT) != 0) | ((given == 0) & (family != 0) & (family <= 2))
    out: set[tuple[int, int]] = set()
    for i in np.flatnonzero(bad).tolist():
        out.add((pairs[i][0], pairs[i][1]))
        out.add((pairs[i][1], pairs[i][0]))
    return out


def checked_pairs(groups: Mapping[Ident, Sequence[int]], config: ResolverConfig) -> list[tuple[int, int]]:
    """Every pair of carriers the guards may need to judge by name."""
    out: list[tuple[int, int]] = []
    for ident, rows in groups.items():
        if kind_of(ident) in UNCHECKED_KINDS or not 2 <= len(rows) <= config.max_identifier_group:
            continue
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                out.append((rows[i], rows[j]))
    return out


def link(
    groups: Mapping[Ident, Sequence[int]],
    config: ResolverConfig,
    incompatible: Callable[[int, int], bool],
) -> tuple[list[DetLink], dict[Ident, str]]:
    """Deterministic links among the carriers in ``groups`` and the values the guards refused.

    Args:
        groups: Identifier -> rows carrying it (only identifiers held by two or more rows
            matter).
        config: Priority order and group size limit.
        incompatible: Whether two rows' names rule out one person.

    Returns:
        The links (a spanning set per accepted value) and, per refused identifier, why.
    """
    uf = UnionFind()
    links: list[DetLink] = []
    refused: dict[Ident, str] = {}
    by_kind: dict[str, list[tuple[Ident, Sequence[int]]]] = {}
    for ident, rows in groups.items():
        if len(rows) >= 2:
            by_kind.setdefault(kind_of(ident), []).append((ident, rows))
    for kind in config.priority:
        accepted: list[tuple[Ident, list[int]]] = []
        for ident, rows in sorted(by_kind.get(kind, ()), key=lambda x: x[0]):
            rows = sorted(rows)
            if len(rows) > config.max_identifier_group:
                refused[ident] = f"shared by {len(rows)} records (limit {config.max_identifier_group})"
                continue
            for r in rows:
                uf.add(r)
            if len({uf.find(r) for r in rows}) < 2:
                continue
            if kind not in UNCHECKED_KINDS and _names_clash(rows, uf, incompatible):
                refused[ident] = "carried by records with different names (a shared line or mailbox)"
                continue
            accepted.append((ident, rows))
        for ident, rows in accepted:
            for r in rows[1:]:
                if uf.find(rows[0]) != uf.find(r):
                    uf.union(rows[0], r)
                    links.append(DetLink(rows[0], r, ident))
    return links, refused


def _names_clash(rows: list[int], uf: UnionFind, incompatible: Callable[[int, int], bool]) -> bool:
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            x, y = rows[i], rows[j]
            if uf.find(x) != uf.find(y) and incompatible(x, y):
                return True
    return False


def groups_of(table: FeatureTable, rows: Iterable[int]) -> dict[Ident, list[int]]:
    """Identifier -> carrier rows, for the identifiers two or more of ``rows`` carry.

    A record's own ref (``source:source_id``) is in a group only when another record carries
    it as a cross-tool id; skipping the rest keeps a million-row batch from building a
    million one-row groups.
    """
    rows = list(rows)
    groups: dict[Ident, list[int]] = {}
    for row in rows:
        if table.identifiers[row]:
            for ident in table.idents(row):
                groups.setdefault(ident, []).append(row)
    wanted = {ident for ident in groups if ident[0] == "ref"}
    if wanted:
        ids = table.record_ids
        for row in rows:
            if not table.identifiers[row] and ("ref", ids[row]) in wanted:
                groups[("ref", ids[row])].append(row)
    return {k: sorted(v) for k, v in groups.items() if len(v) >= 2}
