"""From one input record (a canonical Person dict) to the normalised features matching uses.

The record model is the canonical Person (:mod:`schemas.canonical`) as a plain dict, plus a few
keys the resolver understands when a source has them:

* ``source`` and ``source_id`` (or ``record_id``): which record this is;
* ``name`` / ``name_kana``: a full name in one field, split by the configured order;
* ``organization_name`` (or ``company``) and ``website``: employer evidence;
* ``birth_date``: any ISO-like or digit date;
* ``identifiers``: ``[{"scheme": ..., "value": ...}]``, e.g. a national or customer number.

Cross-tool ids come from ``source_refs``: a HubSpot record carrying a Salesforce id lists
``{"system": "salesforce", "id": ...}`` and meets the Salesforce record's own
``source``/``source_id``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import orjson

from hub.identity.config import ResolverConfig
from hub.identity.normalize import (
    detect_prefecture,
    fold_street,
    is_placeholder_name,
    kana_reading,
    name_key,
    nfkc,
    org_domain,
    org_key,
    parse_email,
    parse_phone,
    postal_code,
    romaji_key,
    split_person_name,
    split_street,
)

Identifier = tuple[str, str]


@dataclass(slots=True)
class Features:
    """The comparable view of one record; empty strings and tuples mean "not known"."""

    record_id: str
    family: str = ""
    given: str = ""
    family_kana: str = ""
    given_kana: str = ""
    family_roma: str = ""
    given_roma: str = ""
    full: str = ""
    """Family and given keys joined, to meet a name kept whole in one field (山田太郎)."""
    birth: str = ""
    natid: str = ""
    emails: tuple[str, ...] = ()
    """Personal addresses: not role mailboxes, not placeholders."""
    email_locals: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    landlines: tuple[str, ...] = ()
    postal: str = ""
    region: str = ""
    locality: str = ""
    street: str = ""
    house: str = ""
    building: str = ""
    org: str = ""
    org_domains: tuple[str, ...] = ()
    identifiers: tuple[Identifier, ...] = ()
    """(kind, value) keys the deterministic layer links on, before its guards."""


_FORMAT = 1
"""Bumped whenever :class:`Features` or :func:`extract` changes what a record becomes."""
_SLOTS = [f.name for f in fields(Features)][1:]  # the record id is the row's own key
_TUPLES = frozenset(f.name for f in fields(Features) if isinstance(f.default, tuple))


def features_stamp(config: ResolverConfig) -> int:
    """Which code and settings made a set of features: those made otherwise are stale."""
    used = (_FORMAT, config.default_region, config.name_order, config.strip_plus_tag, sorted(config.strong_schemes), sorted(config.blocklist))
    return zlib.crc32(repr(used).encode())


def encode_features(f: Features, stamp: int) -> str:
    """``f`` as compact JSON (its record id left out), stamped (:func:`features_stamp`)."""
    return orjson.dumps([stamp, *(getattr(f, name) for name in _SLOTS)]).decode()


def decode_features(record_id: str, data: str, stamp: int) -> Features | None:
    """What :func:`encode_features` wrote, or None when another stamp made it."""
    values = orjson.loads(data)
    if values[0] != stamp:
        return None
    kw = dict(zip(_SLOTS, values[1:], strict=True))
    for name in _TUPLES:
        kw[name] = tuple(map(tuple, kw[name])) if name == "identifiers" else tuple(kw[name])
    return Features(record_id, **kw)


def record_id(record: Mapping[str, Any]) -> str:
    """The stable id of an input record: ``source:source_id``, or its ``record_id``."""
    rid = record.get("record_id")
    if rid is not None:
        return str(rid)
    source, sid = record.get("source"), record.get("source_id")
    if source is None or sid is None:
        raise ValueError("a record needs 'source' and 'source_id' (or 'record_id')")
    return f"{source}:{sid}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is str:
        return value.strip()
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return str(value).strip()


def _items(value: Any) -> Iterable[Any]:
    if value is None or isinstance(value, (str, bytes)):
        return ()
    return value if isinstance(value, (list, tuple)) else ()


_DATE_DIGITS = re.compile(r"\d+")


def birth_key(value: Any) -> str:
    """A birth date as ``YYYYMMDD`` (or the digits typed, when they do not form a date)."""
    return _birth_key(_text(value))


@lru_cache(maxsize=1 << 16)
def _birth_key(text: str) -> str:
    text = nfkc(text)
    if not text:
        return ""
    parts = _DATE_DIGITS.findall(text)
    if len(parts) == 3:
        a, b, c = parts
        if len(a) == 4:
            return f"{a}{b.zfill(2)}{c.zfill(2)}"
        if len(c) == 4:  # US-style MM/DD/YYYY
            return f"{c}{a.zfill(2)}{b.zfill(2)}"
    return "".join(parts)


def _names(record: Mapping[str, Any], config: ResolverConfig) -> tuple[str, str, str, str]:
    get = record.get
    family, given = _text(get("family_name")), _text(get("given_name"))
    if not (family or given) and get("name"):
        order = _text(get("name_order")) or config.name_order
        f, g = split_person_name(_text(record["name"]), order)  # type: ignore[arg-type]
        family, given = f or "", g or ""
    fk, gk = _text(get("family_name_kana")), _text(get("given_name_kana"))
    if not (fk or gk) and get("name_kana"):
        f, g = split_person_name(_text(record["name_kana"]), "family_first")
        fk, gk = f or "", g or ""
    return family, given, fk, gk


@lru_cache(maxsize=1 << 16)
def _name_part(text: str, kana_text: str) -> tuple[str, str, str]:
    key = name_key(text) if text else ""
    if key and is_placeholder_name(key, text):
        # "Unknown", "Lady of the house", "ご担当者": no name at all, not a different one
        key, text = "", ""
    kana = kana_reading(kana_text) if kana_text else None
    if kana and is_placeholder_name(kana):
        kana = None
    kana = kana or (kana_reading(text) if text else None) or ""
    roma = (romaji_key(kana) if kana else None) or (romaji_key(text) if text else None) or ""
    return key, kana, roma


def extract(record: Mapping[str, Any], config: ResolverConfig) -> Features:
    """Normalise one record into :class:`Features` (pure; every step is memoised).

    Written for speed — a batch run calls it a million times — so it reads each key once and
    leans on cached helpers for everything that repeats (names, addresses, ids).
    """
    get = record.get
    rid = record_id(record)
    feats = Features(record_id=rid)
    family, given, fk, gk = _names(record, config)
    if family or fk:
        feats.family, feats.family_kana, feats.family_roma = _name_part(family, fk)
    if given or gk:
        feats.given, feats.given_kana, feats.given_roma = _name_part(given, gk)
    if feats.family or feats.given:
        feats.full = feats.family + feats.given
    birth = get("birth_date")
    if birth:
        feats.birth = birth_key(birth)

    addresses = get("addresses")
    country = ""
    if addresses:
        addresses = [a for a in _items(addresses) if isinstance(a, Mapping)]
        country = next((_text(a.get("country")).upper() for a in addresses if a.get("country")), "")
        _address(addresses, feats)
    if get("emails") or get("phones"):
        _contact_points(record, feats, config, country or config.default_region)

    org_name = _text(get("organization_name")) or _text(get("company"))
    if org_name:
        feats.org = org_key(org_name) or ""
    elif get("organization_id"):
        feats.org = "id:" + _text(get("organization_id"))
    website = _text(get("website"))
    if website and (d := org_domain(website)) and d not in feats.org_domains:
        feats.org_domains = (*feats.org_domains, d)

    idents: list[Identifier] = [("ref", rid)]
    refs = get("source_refs")
    if refs:
        for ref in _items(refs):
            if isinstance(ref, Mapping) and _text(ref.get("system")) and _text(ref.get("id")):
                idents.append(("ref", f"{_text(ref['system'])}:{_text(ref['id'])}"))
    hub_id = _text(get("id"))
    if hub_id:
        idents.append(("hub", hub_id))
    ids = get("identifiers")
    if ids:
        for ident in _items(ids):
            if not isinstance(ident, Mapping):
                continue
            scheme, value = _text(ident.get("scheme")), _id_value(_text(ident.get("value")))
            if not value:
                continue
            if scheme in config.strong_schemes:
                idents.append((f"id:{scheme}", value))
            elif not feats.natid:
                feats.natid = value
    idents.extend(("email", e) for e in feats.emails)
    idents.extend(("mobile", m) for m in feats.mobiles)
    if config.blocklist:
        idents = [i for i in idents if i[1] not in config.blocklist]
    feats.identifiers = tuple(dict.fromkeys(idents)) if len(idents) > 1 else tuple(idents)
    return feats


@lru_cache(maxsize=1 << 16)
def _id_value(text: str) -> str:
    return nfkc(text).replace("-", "").replace(" ", "").upper()


def _contact_points(record: Mapping[str, Any], feats: Features, config: ResolverConfig, region: str) -> None:
    emails: list[str] = []
    locals_: list[str] = []
    domains: list[str] = []
    for e in _items(record.get("emails")):
        raw = _text(e.get("address") if isinstance(e, Mapping) else e)
        info = parse_email(raw, config.strip_plus_tag) if raw else None
        if info is None:
            continue
        if not info.free and info.domain not in domains and not info.placeholder:
            domains.append(info.domain)
        if info.role or info.placeholder or info.address in config.blocklist:
            continue  # a team mailbox says where someone works, never who they are
        if info.address not in emails:
            emails.append(info.address)
            locals_.append(info.local)
    mobiles: list[str] = []
    landlines: list[str] = []
    for p in _items(record.get("phones")):
        raw = _text(p.get("number") if isinstance(p, Mapping) else p)
        info = parse_phone(raw, region) if raw else None
        if info is None or info.placeholder or info.e164 in config.blocklist:
            continue
        # judged by the number, never by the field a tool keeps it in, so both sides of a pair
        # see the same kind; a mobile shared by several people is caught by the guards
        target = mobiles if info.mobile else landlines
        if info.e164 not in mobiles and info.e164 not in landlines:
            target.append(info.e164)
    feats.emails, feats.email_locals = tuple(emails), tuple(dict.fromkeys(locals_))
    feats.mobiles, feats.landlines = tuple(mobiles), tuple(landlines)
    feats.org_domains = tuple(domains)


def _address(addresses: list[Mapping[str, Any]], feats: Features) -> None:
    for addr in addresses:
        get = addr.get
        parts = (
            _text(get("street")), _text(get("postal_code")), _text(get("locality")),
            _text(get("region")), _text(get("building")), _text(get("country")),
        )
        if parts[0] or parts[1] or parts[2] or parts[3]:
            (feats.postal, feats.region, feats.locality, feats.street, feats.house, feats.building) = _address_parts(*parts)
            return


def _address_parts(
    street: str, postal: str, locality: str, region: str, building: str, country: str
) -> tuple[str, str, str, str, str, str]:
    """(postal, region, locality, street name, house number, building) matching keys."""
    code = _postal(postal, country) if postal else ""
    region_key, locality_key = _area(region, locality)
    name, number = split_street(street) if street else ("", "")
    return code, region_key, locality_key, name, number, name_key(building) if building else ""


@lru_cache(maxsize=1 << 16)
def _postal(postal: str, country: str) -> str:
    return postal_code(postal, country.upper() or None) or ""


@lru_cache(maxsize=1 << 16)
def _area(region: str, locality: str) -> tuple[str, str]:
    """(region key, locality key): a prefecture named at the start of the town is moved out."""
    pref = detect_prefecture(region) if region else None
    if not pref and locality:
        pref = detect_prefecture(locality)
        if pref and locality.startswith(pref):
            locality = locality[len(pref) :]
    region_key = pref or (name_key(region) if region else "")
    return region_key, name_key(fold_street(locality)) if locality else ""
