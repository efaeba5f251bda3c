"""Columnar input: flat columns (a CSV file, a data frame) straight into a :class:`FeatureTable`.

A million records as dicts cost more to build and walk than to resolve. Flat columns are
normalised once per distinct value instead — names, towns and streets repeat — and written to
the table column by column. The result is the table :func:`hub.identity.features.extract` would
build from the equivalent records (:func:`flat_record` says which), which a test checks.

Column names are flat canonical fields:

* ``source``, ``source_id`` (or ``record_id``);
* ``family_name``, ``given_name``, ``family_name_kana``, ``given_name_kana``, ``name``,
  ``name_kana``, ``birth_date``;
* ``street``, ``postal_code``, ``locality``, ``region``, ``building``, ``country`` (one address);
* ``organization_name``, ``organization_id``, ``website``;
* any number of ``email…`` and ``phone…`` / ``mobile…`` columns;
* ``id:<scheme>`` for identifiers, ``ref:<system>`` for another tool's id of the same record.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from hub.identity.config import ResolverConfig
from hub.identity.features import Features, _address_parts, _contact_points, _id_value, _name_part, _text, birth_key
from hub.identity.normalize import org_domain, org_key, split_person_name
from hub.identity.table import MULTI, FeatureTable

NAME_FIELDS = ("family_name", "given_name", "family_name_kana", "given_name_kana", "name", "name_kana")
ADDRESS_FIELDS = ("street", "postal_code", "locality", "region", "building", "country")
OTHER_FIELDS = ("source", "source_id", "record_id", "birth_date", "organization_name", "organization_id", "website")
Columns = Mapping[str, Sequence[Any]]


def is_known_column(name: str) -> bool:
    """Whether a flat column name means something to the resolver."""
    return (
        name in NAME_FIELDS
        or name in ADDRESS_FIELDS
        or name in OTHER_FIELDS
        or name.startswith(("email", "phone", "mobile", "id:", "ref:"))
    )


def flat_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical record a flat row stands for (what :func:`extract` would be given)."""
    rec: dict[str, Any] = {k: row[k] for k in (*NAME_FIELDS, *OTHER_FIELDS) if _text(row.get(k))}
    address = {k: row[k] for k in ADDRESS_FIELDS if _text(row.get(k))}
    if address:
        rec["addresses"] = [address]
    emails = [row[k] for k in row if k.startswith("email") and _text(row[k])]
    phones = [row[k] for k in row if k.startswith(("phone", "mobile")) and _text(row[k])]
    if emails:
        rec["emails"] = [{"address": e} for e in emails]
    if phones:
        rec["phones"] = [{"number": p} for p in phones]
    idents = [{"scheme": k[3:], "value": row[k]} for k in row if k.startswith("id:") and _text(row[k])]
    if idents:
        rec["identifiers"] = idents
    refs = [{"system": k[4:], "id": _text(row[k])} for k in row if k.startswith("ref:") and _text(row[k])]
    if refs:
        rec["source_refs"] = refs
    return rec


def _map(values: Sequence[Hashable], fn: Callable[[Any], Any]) -> list[Any]:
    """``fn`` applied once per distinct value, broadcast back to every row."""
    mapped = {v: fn(v) for v in dict.fromkeys(values)}
    return list(map(mapped.__getitem__, values))


def _col(columns: Columns, name: str, n: int) -> list[str]:
    values = columns.get(name)
    return [""] * n if values is None else _map(values, _text)


_SLICE = 50_000
"""Rows normalised at once: each slice's tuples and lists are freed before the next is made,
so a million rows never hold a million of them at once (freed small objects leave the
allocator's arenas fragmented, and the resident size never comes back down)."""


def table_from_columns(batches: Columns | Iterable[Columns], config: ResolverConfig) -> FeatureTable:
    """Build the feature table of flat columns, given as one mapping or as batches of them."""
    table = FeatureTable()
    seen: set[str] = set()
    for columns in [batches] if isinstance(batches, Mapping) else batches:
        n = len(next(iter(columns.values()))) if columns else 0
        for start in range(0, max(n, 1), _SLICE):
            part = columns if n <= _SLICE else {k: v[start : start + _SLICE] for k, v in columns.items()}
            append_columns(table, part, config, seen)
    table.compact()
    return table


def append_columns(table: FeatureTable, columns: Columns, config: ResolverConfig, seen: set[str] | None = None) -> None:
    """Append one batch of flat columns to ``table`` (see the module docstring for the names)."""
    n = len(next(iter(columns.values()))) if columns else 0
    unknown = [c for c in columns if not is_known_column(c)]
    if unknown:
        raise ValueError(f"unknown columns {unknown}: map them to canonical fields first")
    col = {name: _col(columns, name, n) for name in (*NAME_FIELDS, *ADDRESS_FIELDS, *OTHER_FIELDS)}
    if "record_id" in columns:
        rids = col["record_id"]
    elif "source_id" in columns:
        rids = [f"{s}:{i}" for s, i in zip(col["source"], col["source_id"])]
    else:
        raise ValueError("columns need 'source_id' (and 'source') or 'record_id'")
    seen = set() if seen is None else seen
    before = len(seen)
    seen.update(rids)
    if len(seen) != before + n:
        raise ValueError("record ids must be unique")

    def split(t: tuple[str, str, str], order: str) -> tuple[str, str]:
        if t[2] and not (t[0] or t[1]):
            f, g = split_person_name(t[2], order)  # type: ignore[arg-type]
            return f or "", g or ""
        return t[0], t[1]

    names = _map(list(zip(col["family_name"], col["given_name"], col["name"])), lambda t: split(t, config.name_order))
    kanas = _map(list(zip(col["family_name_kana"], col["given_name_kana"], col["name_kana"])), lambda t: split(t, "family_first"))
    empty3 = ("", "", "")
    fam = _map([(x[0], k[0]) for x, k in zip(names, kanas)], lambda t: _name_part(*t) if t[0] or t[1] else empty3)
    giv = _map([(x[1], k[1]) for x, k in zip(names, kanas)], lambda t: _name_part(*t) if t[0] or t[1] else empty3)
    fields: dict[str, list[Any]] = {}
    fields["family"], fields["family_kana"], fields["family_roma"] = (list(x) for x in zip(*fam)) if n else ([], [], [])
    fields["given"], fields["given_kana"], fields["given_roma"] = (list(x) for x in zip(*giv)) if n else ([], [], [])
    fields["full"] = [f + g for f, g in zip(fields["family"], fields["given"])]
    fields["birth"] = _map(col["birth_date"], lambda v: birth_key(v) if v else "")
    addresses = _map(
        list(zip(*(col[k] for k in ADDRESS_FIELDS))),
        lambda t: _address_parts(*t) if (t[0] or t[1] or t[2] or t[3]) else ("",) * 6,
    )
    for name, values in zip(("postal", "region", "locality", "street", "house", "building"), zip(*addresses) if n else [[]] * 6):
        fields[name] = list(values)
    fields["org"] = _map(
        list(zip(col["organization_name"], col["organization_id"])),
        lambda t: (org_key(t[0]) or "") if t[0] else ("id:" + t[1] if t[1] else ""),
    )
    sites = _map(col["website"], lambda v: (org_domain(v) or "") if v else "")
    for name in MULTI:
        fields[name] = [()] * n
    fields["natid"] = [""] * n

    id_cols = [c for c in columns if c.startswith("id:")]
    ids = [_map(_col(columns, c, n), _id_value) for c in id_cols]
    ref_cols = [c for c in columns if c.startswith("ref:")]
    refs = [_col(columns, c, n) for c in ref_cols]
    emails = [_col(columns, c, n) for c in columns if c.startswith("email")]
    phones = [_col(columns, c, n) for c in columns if c.startswith(("phone", "mobile"))]
    # an identifier of a scheme that is not strong is compared, not linked on: the first one
    for c, v in zip(id_cols, ids):
        if c[3:] not in config.strong_schemes:
            fields["natid"] = [old or new for old, new in zip(fields["natid"], v)]
    strong = [v for c, v in zip(id_cols, ids) if c[3:] in config.strong_schemes]
    identifiers: list[tuple[tuple[str, str], ...]] = [()] * n  # the own ref is implied
    # the per-row part: only rows holding contact points, strong ids, refs or a website
    per_row = [*emails, *phones, *strong, *refs, sites]
    busy = sorted({i for values in per_row for i, v in enumerate(values) if v})
    for i in busy:
        f = Features(record_id=rids[i])
        row_emails = [e[i] for e in emails if e[i]]
        row_phones = [p[i] for p in phones if p[i]]
        if row_emails or row_phones:
            _contact_points({"emails": row_emails, "phones": row_phones}, f, config, col["country"][i].upper() or config.default_region)
        if sites[i] and sites[i] not in f.org_domains:
            f.org_domains = (*f.org_domains, sites[i])
        idents: list[tuple[str, str]] = [("ref", rids[i])]
        idents.extend(("ref", f"{c[4:]}:{r[i]}") for c, r in zip(ref_cols, refs) if r[i])
        idents.extend((c, v[i]) for c, v in zip(id_cols, ids) if v[i] and c[3:] in config.strong_schemes)
        idents.extend(("email", e) for e in f.emails)
        idents.extend(("mobile", m) for m in f.mobiles)
        if config.blocklist:
            idents = [x for x in idents if x[1] not in config.blocklist]
        identifiers[i] = tuple(dict.fromkeys(idents))
        for name in MULTI:
            fields[name][i] = getattr(f, name)
    table.extend_columns(fields, rids, identifiers)
