"""Canonical and vendor field paths: ``a.b``, ``a[0].b`` and ``a[type=mobile].b``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# keys are any name without separators (kintone field codes are Japanese or start with "$")
_SEGMENT = re.compile(r"^(?P<key>[^\s.\[\]=!0-9][^\s.\[\]=!]*?)(?:\[(?:(?P<index>\d+)|(?P<attr>\w+)=(?P<value>[^\]]+))\])?$")


@dataclass(frozen=True)
class Segment:
    key: str
    index: int | None = None
    attr: str | None = None
    value: str | None = None
    strict: bool = False  # ``[type=mobile!]``: only items that say so, never untyped ones

    @property
    def is_list(self) -> bool:
        return self.index is not None or self.attr is not None


@lru_cache(maxsize=4096)
def parse(path: str) -> tuple[Segment, ...]:
    """Parse a path; raises ValueError naming the bad segment."""
    out = []
    for raw in path.split("."):
        m = _SEGMENT.match(raw)
        if not m:
            raise ValueError(f"bad path segment {raw!r} in {path!r}")
        value = m["value"]
        strict = bool(value and value.endswith("!"))
        out.append(
            Segment(
                m["key"],
                int(m["index"]) if m["index"] is not None else None,
                m["attr"],
                value[:-1] if strict else value,
                strict,
            )
        )
    return tuple(out)


@lru_cache(maxsize=4096)
def getter(path: str) -> Any:
    """A compiled ``get`` for ``path`` (plain dotted keys skip the general walker)."""
    segs = parse(path)
    if any(seg.is_list for seg in segs):
        return lambda data: get(data, path)
    keys = tuple(seg.key for seg in segs)
    if len(keys) == 1:
        key = keys[0]
        return lambda data: data.get(key) if isinstance(data, dict) else None

    def walk(data: Any) -> Any:
        for key in keys:
            if not isinstance(data, dict):
                return None
            data = data.get(key)
        return data

    return walk


def top(path: str) -> str:
    """The top-level field a path belongs to (``phones[type=mobile].number`` -> ``phones``)."""
    return parse(path)[0].key


def _pick(items: list[Any], seg: Segment, loose: bool = False) -> Any:
    if seg.index is not None:
        return items[seg.index] if seg.index < len(items) else None
    for item in items:
        if isinstance(item, dict) and str(item.get(seg.attr)) == seg.value:
            return item
    if loose and not seg.strict:  # an item that does not say (a phone of unknown type) fits
        for item in items:
            if isinstance(item, dict) and item.get(seg.attr) is None:
                return item
    return None


def get(data: Any, path: str, *, loose: bool = False) -> Any:
    """The value at ``path`` in ``data`` or None.

    With ``loose``, ``[attr=value]`` also accepts an item that has no ``attr`` at all.
    """
    cur = data
    for seg in parse(path):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(seg.key)
        if seg.is_list:
            if not isinstance(cur, list):
                return None
            cur = _pick(cur, seg, loose)
    return cur


def get_all(data: Any, path: str) -> list[Any]:
    """Every value ``path`` can reach when list selectors are read as 'any item'.

    Used on the way out: a tool holding any one of the golden record's emails (or phones,
    whatever type another tool gave them) is in sync.
    """
    values: list[Any] = [data]
    for seg in parse(path):
        nxt: list[Any] = []
        for cur in values:
            if not isinstance(cur, dict):
                continue
            v = cur.get(seg.key)
            if seg.is_list:
                if isinstance(v, list):
                    nxt.extend(v)
            elif v is not None:
                nxt.append(v)
        values = nxt
    return [v for v in values if v is not None]


def set_(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``data``, creating dicts and list items on the way."""
    segs = parse(path)
    cur: Any = data
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if not seg.is_list:
            if last:
                cur[seg.key] = value
                return
            cur = cur.setdefault(seg.key, {})
            continue
        items = cur.setdefault(seg.key, [])
        item = _pick(items, seg)
        if item is None:
            if seg.index is not None:
                while len(items) <= seg.index:
                    items.append({} if not last else None)
                item = items[seg.index]
            else:
                item = {seg.attr: seg.value}
                items.append(item)
        if last:
            if seg.index is not None:
                items[seg.index] = value
            return
        if item is None:
            item = {}
            items[seg.index] = item  # type: ignore[index]
        cur = item
