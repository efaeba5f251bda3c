"""Canonical and vendor field paths: ``a.b``, ``a[0].b`` and ``a[type=mobile].b``.

``get``, ``get_all`` and ``set_`` run for every field of every record, so each path is compiled
once into a closure (:func:`getter`, :func:`setter`) that walks precomputed keys and selectors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# keys are any name without separators (kintone field codes are Japanese or start with "$")
_SEGMENT = re.compile(r"^(?P<key>[^\s.\[\]=!0-9][^\s.\[\]=!]*?)(?:\[(?:(?P<index>\d+)|(?P<attr>\w+)=(?P<value>[^\]]+))\])?$")

Getter = Callable[[Any], Any]
Setter = Callable[[dict[str, Any], Any], None]
Picker = Callable[[list[Any]], Any]

_CACHE_MAX = 4096  # paths come from mapping files and code: a few hundred at most


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


def _picker(seg: Segment, loose: bool) -> Picker:
    """``_pick`` for one segment, with its index or selector bound."""
    index = seg.index
    if index is not None:
        return lambda items: items[index] if index < len(items) else None
    attr, value = seg.attr, seg.value
    if loose and not seg.strict:
        return lambda items: _pick(items, seg, True)

    def pick(items: list[Any]) -> Any:
        for item in items:
            if isinstance(item, dict) and str(item.get(attr)) == value:
                return item
        return None

    return pick


# -- get ---------------------------------------------------------------------------------
def _compile_get(path: str, loose: bool) -> Getter:
    segs = parse(path)
    if not any(seg.is_list for seg in segs):
        keys = tuple(seg.key for seg in segs)
        if len(keys) == 1:
            key = keys[0]
            return lambda data: data.get(key) if isinstance(data, dict) else None
        if len(keys) == 2:
            k0, k1 = keys

            def two(data: Any) -> Any:
                if not isinstance(data, dict):
                    return None
                data = data.get(k0)
                return data.get(k1) if isinstance(data, dict) else None

            return two

        def walk(data: Any) -> Any:
            for key in keys:
                if not isinstance(data, dict):
                    return None
                data = data.get(key)
            return data

        return walk
    if len(segs) == 2 and segs[0].is_list and not segs[1].is_list:
        return _item_field_getter(segs[0], segs[1].key, loose)
    steps = tuple((seg.key, _picker(seg, loose) if seg.is_list else None) for seg in segs)

    def walk_lists(data: Any) -> Any:
        for key, pick in steps:
            if not isinstance(data, dict):
                return None
            data = data.get(key)
            if pick is not None:
                if not isinstance(data, list):
                    return None
                data = pick(data)
        return data

    return walk_lists


def _item_field_getter(seg: Segment, field: str, loose: bool) -> Getter:
    """``get`` for the usual shape, ``emails[0].address`` or ``phones[type=mobile].number``."""
    key, pick = seg.key, _picker(seg, loose)

    def item_field(data: Any) -> Any:
        if not isinstance(data, dict):
            return None
        items = data.get(key)
        if not isinstance(items, list):
            return None
        item = pick(items)
        return item.get(field) if isinstance(item, dict) else None

    return item_field


_STRICT: dict[str, Any] = {}
_LOOSE: dict[str, Any] = {}


def _compiled(cache: dict[str, Any], path: str, compile_: Callable[[str], Any]) -> Any:
    """``path``'s compiled function from ``cache``, compiled on first use."""
    fn = cache.get(path)
    if fn is None:
        fn = compile_(path)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[path] = fn
    return fn


def _getter(path: str, loose: bool) -> Getter:
    return _compiled(_LOOSE if loose else _STRICT, path, lambda p: _compile_get(p, loose))  # type: ignore[no-any-return]


def getter(path: str, *, loose: bool = False) -> Getter:
    """A compiled ``get`` for ``path``: ``getter(path, loose=L)(data) == get(data, path, loose=L)``."""
    return _getter(path, bool(loose))


def get(data: Any, path: str, *, loose: bool = False) -> Any:
    """The value at ``path`` in ``data`` or None.

    With ``loose``, ``[attr=value]`` also accepts an item that has no ``attr`` at all.
    """
    return _getter(path, loose)(data)


# -- get_all -----------------------------------------------------------------------------
def _compile_get_all(path: str) -> Getter:
    segs = parse(path)
    if len(segs) == 2 and segs[0].is_list and not segs[1].is_list:
        k0, k1 = segs[0].key, segs[1].key

        def item_fields(data: Any) -> list[Any]:
            items = data.get(k0) if isinstance(data, dict) else None
            if not isinstance(items, list):
                return []
            return [v for item in items if isinstance(item, dict) and (v := item.get(k1)) is not None]

        return item_fields
    steps = tuple((seg.key, seg.is_list) for seg in segs)

    def get_all_(data: Any) -> list[Any]:
        values: list[Any] = [data]
        for key, is_list in steps:
            nxt: list[Any] = []
            for cur in values:
                if not isinstance(cur, dict):
                    continue
                v = cur.get(key)
                if is_list:
                    if isinstance(v, list):
                        nxt.extend(v)
                elif v is not None:
                    nxt.append(v)
            values = nxt
        return [v for v in values if v is not None]

    return get_all_


_ALL: dict[str, Any] = {}


def all_getter(path: str) -> Getter:
    """A compiled ``get_all`` for ``path``: ``all_getter(path)(data) == get_all(data, path)``."""
    return _compiled(_ALL, path, _compile_get_all)  # type: ignore[no-any-return]


def get_all(data: Any, path: str) -> list[Any]:
    """Every value ``path`` can reach when list selectors are read as 'any item'.

    Used on the way out: a tool holding any one of the golden record's emails (or phones,
    whatever type another tool gave them) is in sync.
    """
    return all_getter(path)(data)  # type: ignore[no-any-return]


# -- set ---------------------------------------------------------------------------------
def _set_segs(data: dict[str, Any], segs: tuple[Segment, ...], value: Any) -> None:
    cur: Any = data
    last_i = len(segs) - 1
    for i, seg in enumerate(segs):
        last = i == last_i
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


def _compile_set(path: str) -> Setter:
    segs = parse(path)
    if len(segs) == 1 and not segs[0].is_list:
        key = segs[0].key

        def set_key(data: dict[str, Any], value: Any) -> None:
            data[key] = value

        return set_key
    if not any(seg.is_list for seg in segs):
        *head, key = (seg.key for seg in segs)

        def set_dotted(data: dict[str, Any], value: Any) -> None:
            cur: Any = data
            for k in head:
                cur = cur.setdefault(k, {})
            cur[key] = value

        return set_dotted
    if len(segs) == 2 and segs[0].is_list and not segs[1].is_list:
        k0, k1, seg = segs[0].key, segs[1].key, segs[0]
        index, attr, want = seg.index, seg.attr, seg.value
        if index is not None:

            def set_nth(data: dict[str, Any], value: Any) -> None:
                items = data.setdefault(k0, [])
                if index < len(items):
                    item = items[index]
                    if item is None:
                        item = items[index] = {}
                else:
                    while len(items) <= index:
                        items.append({})
                    item = items[index]
                item[k1] = value

            return set_nth

        def set_selected(data: dict[str, Any], value: Any) -> None:
            items = data.setdefault(k0, [])
            for item in items:
                if isinstance(item, dict) and str(item.get(attr)) == want:
                    break
            else:
                item = {attr: want}
                items.append(item)
            item[k1] = value

        return set_selected
    return lambda data, value: _set_segs(data, segs, value)


_SETTERS: dict[str, Any] = {}


def setter(path: str) -> Setter:
    """A compiled ``set_`` for ``path``: ``setter(path)(data, value)`` is ``set_(data, path, value)``."""
    return _compiled(_SETTERS, path, _compile_set)  # type: ignore[no-any-return]


def set_(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``data``, creating dicts and list items on the way."""
    setter(path)(data, value)
