"""English given names and their nicknames (Robert: Bob, Rob, Bobby…).

The hand-curated list of the ``nicknames`` package (Apache License 2.0). A nickname is written
in place of the name, so the two are one person's given name; names that are merely nicknames
of a common third name (Kathy, Lena: both of Katherine) are not.
"""

from __future__ import annotations

from nicknames import name_triplets


def _load() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for t in name_triplets():
        if t.relationship == "has_nickname":
            out.setdefault(t.name1, []).append(t.name2)
    return {canon: tuple(nicks) for canon, nicks in out.items()}


NICKNAMES: dict[str, tuple[str, ...]] = _load()
"""Canonical given name -> its nicknames (lower case)."""
