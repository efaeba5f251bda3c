from __future__ import annotations

import copy
from typing import Any

import pytest

from hub import paths


def test_set_and_get_with_selectors() -> None:
    d: dict = {}
    paths.set_(d, "emails[0].address", "a@example.com")
    paths.set_(d, "phones[type=mobile].number", "+819012345678")
    paths.set_(d, "phones[type=work].number", "+81312345678")
    paths.set_(d, "consents.email.status", "opted_out")
    assert d == {
        "emails": [{"address": "a@example.com"}],
        "phones": [{"type": "mobile", "number": "+819012345678"}, {"type": "work", "number": "+81312345678"}],
        "consents": {"email": {"status": "opted_out"}},
    }
    assert paths.get(d, "phones[type=work].number") == "+81312345678"
    assert paths.get(d, "phones[type=fax].number") is None
    assert paths.get_all(d, "phones[0].number") == ["+819012345678", "+81312345678"]


def test_bad_segment_is_named() -> None:
    with pytest.raises(ValueError, match="bad path segment"):
        paths.parse("emails[0.address")


# -- the compiled paths read and write like the plain walker they replaced ------------------
def _walk_get(data: Any, path: str, loose: bool = False) -> Any:
    cur = data
    for seg in paths.parse(path):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(seg.key)
        if seg.is_list:
            if not isinstance(cur, list):
                return None
            cur = paths._pick(cur, seg, loose)
    return cur


def _walk_set(data: dict[str, Any], path: str, value: Any) -> None:
    """The generic segment walker the compiled setters' fast paths must agree with."""
    paths._set_segs(data, paths.parse(path), value)


PATHS = [
    "name", "a.b", "a.b.c", "emails[0].address", "emails[1].address", "phones[type=mobile].number",
    "phones[type=mobile!].number", "phones[type=work].number", "tags[0]", "domains[2]",
    "identifiers[scheme=jp].value", "a[0].b[1].c", "a.b[type=x].c", "$id", "連絡先.電話[0].番号",
]
DATA: list[Any] = [
    None, 3, "text", [], {}, {"name": "n", "a": {"b": {"c": 1}}, "$id": 7},
    {"a": {"b": [{"type": "x", "c": 1}, {"c": 2}]}, "tags": ["t0"], "domains": "x.com"},
    {"a": [None, {"b": [None, {"c": 5}]}], "emails": [None, {"address": "b@x.com"}]},
    {"emails": [{"address": "a@x.com"}, "odd"], "phones": [{"number": "+81312345678"}, {"type": "mobile", "number": "+819012345678"}]},
    {"phones": [{"number": "+81312345678", "type": None}, {"type": "work", "number": "+81355556666"}, 4]},
    {"phones": {"type": "mobile"}, "identifiers": [{"scheme": "jp", "value": "1"}, {"scheme": "jp", "value": "2"}]},
    {"a": "flat", "emails": "not a list", "連絡先": {"電話": [{"番号": "03"}]}},
]


@pytest.mark.parametrize("path", PATHS)
def test_compiled_get_reads_like_the_walker(path: str) -> None:
    for data in DATA:
        for loose in (False, True):
            assert paths.get(data, path, loose=loose) == _walk_get(data, path, loose), (data, loose)
            assert paths.getter(path, loose=loose)(data) == _walk_get(data, path, loose)
        assert paths.getter(path)(data) == _walk_get(data, path)


@pytest.mark.parametrize("path", PATHS)
def test_compiled_set_writes_like_the_walker(path: str) -> None:
    starts: list[dict[str, Any]] = [
        {}, {"emails": [None]}, {"emails": [{"address": "x"}]}, {"phones": [{"type": "work", "number": "1"}]},
        {"a": {"b": {}}}, {"a": [None]}, {"tags": []}, {"domains": ["a", "b", "c", "d"]}, {"a": {"b": [{"type": "y"}]}},
    ]
    for start in starts:
        mine, theirs = copy.deepcopy(start), copy.deepcopy(start)
        try:
            _walk_set(theirs, path, "v")
        except (TypeError, AttributeError, KeyError) as exc:
            with pytest.raises(type(exc)):
                paths.set_(mine, path, "v")
            continue
        paths.set_(mine, path, "v")
        assert mine == theirs, start


def test_get_all_reads_every_item() -> None:
    data = DATA[9]
    assert paths.get_all(data, "phones[type=mobile].number") == ["+81312345678", "+81355556666"]
    assert paths.get_all(data, "phones[0].type") == ["work"]
    assert paths.get_all({"phones": "no"}, "phones[0].number") == []
    assert paths.get_all(None, "name") == []
    assert paths.get_all({"a": {"b": [{"c": 1}, {"c": None}, {"c": 2}]}}, "a.b[0].c") == [1, 2]
    assert paths.all_getter("a.b") is paths.all_getter("a.b")


def test_a_bad_path_fails_on_every_use() -> None:
    for use in (lambda: paths.get({}, "a..b"), lambda: paths.set_({}, "a..b", 1), lambda: paths.get_all({}, "a..b")):
        for _ in range(2):  # never cached
            with pytest.raises(ValueError, match="bad path segment"):
                use()
