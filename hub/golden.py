"""The golden record: each canonical field resolved across every linked source record.

Policy (``hub.yaml`` ``conflict_policy``): per-field source priority lists first, else the
newest *field* timestamp wins (when that field's value last changed in its tool); an empty value
never overwrites; an opt-out consent always wins; a value the hub wrote and read back (an echo)
is no observation at all. Lists are merged (union), maps key by key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.canonical import ENTITIES

_EMPTY: tuple[Any, ...] = (None, "", [], {})
_KEY_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)  # json.dumps(..., same options), built once


@dataclass
class Observation:
    """One linked source record, as the golden record sees it."""

    connector: str
    stream: str
    source_id: str
    canonical: dict[str, Any]
    field_ts: dict[str, str] = field(default_factory=dict)
    echo: frozenset[str] = frozenset()
    updated_at: str | None = None
    deleted: bool = False
    retracted: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Provenance:
    value: Any
    obs: Observation
    observed_at: str | None
    rule: str


@dataclass
class Golden:
    data: dict[str, Any]
    provenance: dict[str, Provenance]
    conflicts: int


def pack_provenance(provenance: Mapping[str, Provenance]) -> dict[str, Any]:
    """The stored form of a golden record's provenance: each source record and each timestamp
    once, each field as ``[source, timestamp, rule]`` (positions in those two lists).

    A field per source record used to repeat connector, stream, id and timestamp in full: two
    thirds of an entity's row, written again at every recompute.
    """
    sources: dict[tuple[str, str, str], int] = {}
    times: dict[str | None, int] = {}
    fields: dict[str, list[Any]] = {}
    for name, p in provenance.items():
        o = p.obs
        at = sources.setdefault((o.connector, o.stream, o.source_id), len(sources))
        fields[name] = [at, times.setdefault(p.observed_at, len(times)), p.rule]
    return {"v": 2, "sources": [list(k) for k in sources], "times": list(times), "fields": fields}


def _packed(stored: Mapping[str, Any]) -> bool:
    """Whether stored provenance is :func:`pack_provenance`'s form (versioned), not the earlier
    dict per field (whose values are dicts)."""
    return isinstance(stored.get("v"), int)


def unpack_provenance(stored: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per field: ``connector``, ``stream``, ``source_id``, ``observed_at`` and ``rule``, from
    either stored form (:func:`pack_provenance`'s, or the earlier dict per field)."""
    if not stored:
        return {}
    if not _packed(stored):
        return dict(stored)  # already a dict per field
    sources, times = stored["sources"], stored["times"]
    out: dict[str, dict[str, Any]] = {}
    for name, (at, when, rule) in stored["fields"].items():
        connector, stream, source_id = sources[at]
        out[name] = {"connector": connector, "stream": stream, "source_id": source_id, "observed_at": times[when], "rule": rule}
    return out


def observed_times(stored: Mapping[str, Any] | None) -> dict[str, str | None]:
    """Per field, when its golden value was observed (either stored form): all a write needs."""
    if not stored:
        return {}
    if not _packed(stored):
        return {name: p.get("observed_at") for name, p in stored.items()}
    times = stored["times"]
    return {name: times[f[1]] for name, f in stored["fields"].items()}


def _tie_break(o: Observation) -> tuple[str, str, str]:
    return o.connector, o.stream, o.source_id


def _rank(cands: list[Observation], name: str, priority: Sequence[str], *, tie_broken: bool = False) -> None:
    """Sort candidates best first: priority position, then newest, then a stable tie-break.

    ``tie_broken``: the candidates are in tie-break order already (the sorts are stable).
    """
    if len(cands) < 2:
        return
    if not tie_broken:
        cands.sort(key=_tie_break)
    cands.sort(key=lambda o: o.field_ts.get(name) or o.updated_at or "", reverse=True)
    if priority:
        cands.sort(key=lambda o: priority.index(o.connector) if o.connector in priority else len(priority))


def item_key(item: Any) -> str:
    """The identity of a list item (an email by address, a phone by number)."""
    if isinstance(item, dict):
        for k in ("address", "number", "value"):
            if k in item and item[k] is not None:
                return f"{k}:{item[k]}"
        return _KEY_JSON.encode({k: v for k, v in item.items() if k != "type"})
    return _KEY_JSON.encode(item)


def resolve(entity: str, observations: Iterable[Observation], priority: dict[str, list[str]] | None = None) -> Golden:
    """Compute the golden record of one entity from its linked, non-deleted observations."""
    live = [o for o in observations if not o.deleted]
    merge = ENTITIES[entity].MERGE
    if len(live) == 1 and not live[0].echo and not priority:
        return _single(live[0], merge)
    data: dict[str, Any] = {}
    prov: dict[str, Provenance] = {}
    conflicts = 0
    by_name = _candidates(live)
    for name in sorted(by_name):
        cands = by_name[name]
        order = priority.get(f"{entity}.{name}", []) if priority else []
        if len(cands) > 1:
            _rank(cands, name, order, tie_broken=True)
        strategy = merge.get(name, "scalar")
        best = cands[0]
        ts = best.field_ts.get(name) or best.updated_at
        if strategy == "union":
            dropped: dict[str, str] = {}
            for o in live:
                retracted = o.retracted.get(name)
                if retracted:
                    for key, when in retracted.items():
                        dropped[key] = max(dropped.get(key, ""), when)
            seen: dict[str, Any] = {}
            for o in cands:
                asserted = o.field_ts.get(name) or o.updated_at or ""
                for item in o.canonical[name]:
                    key = item_key(item)
                    if key in dropped and asserted <= dropped[key]:
                        continue  # another tool replaced this value after this one last said it
                    seen.setdefault(key, item)
            if not seen:
                continue
            value: Any = list(seen.values())
            rule = "union"
        elif strategy in ("per_key", "consent"):
            value, rule = _per_key(name, cands, strategy == "consent")
        else:
            value = best.canonical[name]
            rule = "priority" if order else ("only" if len(cands) == 1 else "newest")
            first = best.canonical[name]
            if len(cands) > 1 and any(o.canonical[name] != first for o in cands[1:]):
                conflicts += 1
        data[name] = value
        prov[name] = Provenance(value, best, ts, rule)
    return Golden(data, prov, conflicts)


def _candidates(live: list[Observation]) -> dict[str, list[Observation]]:
    """Per field, the observations that hold a value for it, in tie-break order.

    One pass over the values: the tie-break does not depend on the field, so sorting the
    observations once leaves every field's list in that order.
    """
    by_name: dict[str, list[Observation]] = {}
    for o in sorted(live, key=_tie_break):
        echo = o.echo
        for name, value in o.canonical.items():
            # an echo is the hub's own value read back: never evidence of its own (it could only
            # bring back artefacts of a tool's format, e.g. a name split differently)
            if value in _EMPTY or name in echo:
                continue
            cands = by_name.get(name)
            if cands is None:
                by_name[name] = [o]
            else:
                cands.append(o)
    return by_name


def _single(obs: Observation, merge: dict[str, str]) -> Golden:
    """The common case of one source record: its values are the golden record."""
    data: dict[str, Any] = {}
    prov: dict[str, Provenance] = {}
    field_ts, updated_at = obs.field_ts, obs.updated_at
    for name, value in obs.canonical.items():
        if value in _EMPTY:
            continue
        strategy = merge.get(name)
        if strategy is None:  # most fields: a scalar
            rule = "only"
        elif strategy == "union":
            seen: dict[str, Any] = {}
            for item in value:
                seen.setdefault(item_key(item), item)
            value = list(seen.values())
            rule = "union"
        elif strategy in ("per_key", "consent"):
            value = {k: v for k, v in value.items() if v not in _EMPTY}
            rule = "per_key"
        else:
            rule = "only"
        data[name] = value
        prov[name] = Provenance(value, obs, field_ts.get(name) or updated_at, rule)
    return Golden(data, prov, 0)


def _per_key(name: str, cands: list[Observation], consent: bool) -> tuple[dict[str, Any], str]:
    out: dict[str, Any] = {}
    rule = "per_key"
    for o in reversed(cands):  # worst first, so better candidates overwrite
        for k, v in (o.canonical.get(name) or {}).items():
            if v in _EMPTY:
                continue
            if isinstance(v, dict) and isinstance(out.get(k), dict) and not consent:
                out[k] = {**out[k], **{kk: vv for kk, vv in v.items() if vv not in _EMPTY}}
            else:
                out[k] = v
    if consent:
        # an opt-out seen genuinely in any tool wins over any opt-in, however recent
        for o in cands:
            for channel, v in (o.canonical.get(name) or {}).items():
                if isinstance(v, dict) and v.get("status") == "opted_out":
                    out[channel] = v
                    rule = "opt_out"
    return out, rule
