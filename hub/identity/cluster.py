"""Union-find, clustering under cannot-link constraints, and stable entity ids.

Edges are applied strongest first — manual merges, then deterministic identifiers, then
probabilistic links by falling probability, ties by record id — and a union that would put two
records a reviewer split apart into one entity is refused. The order is a function of the edge
set alone, so the batch resolver and the incremental index reach the same partition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

TIER_MANUAL, TIER_DETERMINISTIC, TIER_PROBABILISTIC = 0, 1, 2


class UnionFind:
    """Union-find over arbitrary hashable items, with path halving and union by size."""

    def __init__(self, items: Iterable[int] = ()) -> None:
        self.parent: dict[int, int] = {x: x for x in items}
        self.size: dict[int, int] = dict.fromkeys(self.parent, 1)

    def add(self, x: int) -> None:
        """Make ``x`` a singleton if it is new."""
        if x not in self.parent:
            self.parent[x] = x
            self.size[x] = 1

    def find(self, x: int) -> int:
        """The root of ``x``'s set."""
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> int:
        """Join the sets of ``a`` and ``b``; returns the new root."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return ra

    def groups(self) -> dict[int, list[int]]:
        """Root -> members."""
        out: dict[int, list[int]] = {}
        for x in self.parent:
            out.setdefault(self.find(x), []).append(x)
        return out


@dataclass(frozen=True, slots=True)
class Edge:
    """A reason for two rows to be one entity."""

    a: int
    b: int
    tier: int
    probability: float
    sort_key: tuple[str, str]
    """The two record ids, ordered: the tie-break that makes the order independent of rows."""


def edge_order(e: Edge) -> tuple[int, float, tuple[str, str]]:
    """Strongest first."""
    return (e.tier, -e.probability, e.sort_key)


def cluster(rows: Iterable[int], edges: Iterable[Edge], cannot: Mapping[int, set[int]] | None = None) -> tuple[UnionFind, list[Edge]]:
    """Components of ``rows`` under ``edges``; returns them and the edges that were refused."""
    uf = UnionFind(rows)
    refused: list[Edge] = []
    if not cannot:
        for e in sorted(edges, key=edge_order):
            uf.union(e.a, e.b)
        return uf, refused
    members: dict[int, set[int]] = {}
    forbidden: dict[int, set[int]] = {}
    for e in sorted(edges, key=edge_order):
        ra, rb = uf.find(e.a), uf.find(e.b)
        if ra == rb:
            continue
        ma = members.setdefault(ra, {ra})
        mb = members.setdefault(rb, {rb})
        fa = forbidden.setdefault(ra, set().union(*(cannot.get(x, set()) for x in ma)))
        fb = forbidden.setdefault(rb, set().union(*(cannot.get(x, set()) for x in mb)))
        if (fa & mb) or (fb & ma):
            refused.append(e)
            continue
        root = uf.union(ra, rb)
        other = rb if root == ra else ra
        members[root] = ma | mb
        forbidden[root] = fa | fb
        members.pop(other, None)
        forbidden.pop(other, None)
    return uf, refused


def new_entity_id(seed: str, taken: Container[str]) -> str:
    """A fresh id derived from a founding record id (stable across runs), never one in use."""
    n = 0
    while True:
        digest = hashlib.blake2b(f"{seed}#{n}".encode(), digest_size=8).hexdigest()
        eid = f"ent_{digest}"
        if eid not in taken:
            return eid
        n += 1


def assign_ids(
    components: Sequence[Sequence[str]], previous: Mapping[str, str], taken: Container[str]
) -> tuple[list[str], dict[str, str]]:
    """Entity ids for components of record ids, keeping previous ids where they still fit.

    Each previous id goes to the component holding most of its records (ties: the smaller id
    of the two, then the component's first record) and to one component only; a component
    that inherits none gets a new id derived from its smallest record id. Returns the ids and
    the retired ids -> the id that absorbed most of their records (for redirects).
    """
    overlap: dict[tuple[int, str], int] = {}
    for ci, comp in enumerate(components):
        for rid in comp:
            old = previous.get(rid)
            if old is not None:
                overlap[(ci, old)] = overlap.get((ci, old), 0) + 1
    ranked = sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], min(components[kv[0][0]])))
    ids: list[str | None] = [None] * len(components)
    used: set[str] = set()
    for (ci, old), _ in ranked:
        if ids[ci] is None and old not in used:
            ids[ci] = old
            used.add(old)
    fresh: set[str] = set()
    busy = _Either(taken, used, fresh)
    for ci, comp in enumerate(components):
        if ids[ci] is None:
            eid = new_entity_id(min(comp), busy)
            ids[ci] = eid
            fresh.add(eid)
    final = [i for i in ids if i is not None]
    retired: dict[str, str] = {}
    for (ci, old), _ in ranked:
        if old not in used and old not in retired:
            retired[old] = final[ci]
    return final, retired


class _Either:
    """Membership in any of several containers, without copying them into one set."""

    def __init__(self, *parts: Container[str]) -> None:
        self.parts = parts

    def __contains__(self, item: object) -> bool:
        return any(item in p for p in self.parts)
