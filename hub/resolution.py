"""The probabilistic identity layer of the engine: blocking keys, match model and scoring in the store.

The deterministic linker (:mod:`hub.linker`) joins records sharing a strong identifier while a
chunk is processed. This module adds what :mod:`hub.identity` knows beyond that: records that
share no identifier but agree on name, kana reading, address, organisation… are compared with a
Fellegi-Sunter model learnt (EM, no labels) on the workspace's own people.

* Every processed person record leaves its blocking keys in ``identity_blocks``, so a new or
  changed record is compared with the records sharing a key — an indexed lookup, never a batch
  re-run.
* The first sync that sees enough people trains the model on all of them (one batch run of the
  resolver, whose links and review pairs are applied at once) and keeps it in
  ``identity_models``; later chunks score incrementally against it. ``hub identity train``
  retrains.
* A pair at or above the high threshold links (the engine merges the two entities unless a
  person decided otherwise); a pair between the thresholds waits in ``identity_reviews``.

It knows the store and canonical records, never connectors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.identity import MatchModel, ResolverConfig, resolve
from hub.identity.blocking import KINDS, block_cap
from hub.identity.compare import compare
from hub.identity.deterministic import incompatible_pairs
from hub.identity.features import Features, extract
from hub.identity.model import LINK, REVIEW
from hub.identity.table import FeatureTable
from hub.linker import fold_name
from hub.store.bulk import bulk_insert, chunks
from hub.store.models import (
    Entity,
    IdentityBlock,
    IdentityDecision,
    IdentityModel,
    IdentityReview,
    Link,
    SourceRecord,
    utcnow,
)

_MASK = (1 << 56) - 1


@dataclass(frozen=True, slots=True)
class Scored:
    """A compared pair of source records (ids ``a < b``) at or above the review threshold."""

    a: int
    b: int
    probability: float
    link: bool
    evidence: dict[str, Any]
    kind: str = "link"  # or "unlink": a linked record lost the identifier that linked it


def record_of(rid: int, canonical: dict[str, Any], echo: Iterable[str] | None = None) -> dict[str, Any]:
    """A canonical person as the resolver reads it: the store's record id names it, and fields
    that are the hub's own writes read back (``echo``) are left out — they are evidence of an
    earlier decision, not of the person."""
    drop = set(echo or ()) - {"id"}
    return {**{k: v for k, v in canonical.items() if k not in drop}, "record_id": str(rid)}


# -- blocking keys ---------------------------------------------------------------------------------
def _hkey(kind: str, variant: int, *parts: str) -> int:
    """A stable 64-bit key: kind in the top bits (so block caps know it), a hash of the values."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    tag = KINDS.index(kind) * 8 + variant
    return (tag << 56) | (int.from_bytes(digest, "big") & _MASK)


def block_keys(f: Features) -> set[int]:
    """The blocking keys of one record, built from strings so they mean the same in every run.

    The same families of keys as the batch resolver's (:func:`hub.identity.blocking.row_keys`),
    which codes them per in-memory table: surname + given initial both ways in every script,
    the joined name, e-mail local parts, phones, street + house number in a postal code and in
    a town, postal code + a name part, organisation or domain + surname, birth date + an
    initial, national id.
    """
    keys: set[int] = set()
    reps = ((f.family, f.given), (f.family_kana, f.given_kana), (f.family_roma, f.given_roma))
    for fam, giv in reps:
        if fam:
            keys.add(_hkey("name", 0, fam, giv[:1]))
        if giv:
            keys.add(_hkey("name", 0, giv, fam[:1]))
    if f.full:
        keys.add(_hkey("name", 1, f.full))
    keys.update(_hkey("local", 0, x) for x in f.email_locals)
    keys.update(_hkey("phone", 0, x) for x in (*f.mobiles, *f.landlines))
    for variant, area in enumerate((f.postal, f.locality)):  # a mistyped postal code loses nothing
        if f.street and f.house and area:
            keys.add(_hkey("address", variant, f.street, f.house, area))
    if f.postal:
        keys.update(_hkey("postal", 1, f.postal, part) for fam, giv in reps for part in (fam, giv) if part)
    for fam, _ in reps:
        if fam and f.org:
            keys.add(_hkey("org", 0, f.org, fam))
        if fam:
            keys.update(_hkey("org", 1, d, fam) for d in f.org_domains)
    if f.birth:
        keys.update(_hkey("birth", 0, f.birth, x[:1]) for x in (f.given, f.family) if x)
    if f.natid:
        keys.add(_hkey("natid", 0, f.natid))
    return keys


# -- the model -------------------------------------------------------------------------------------
def load_model(session: Session, entity: str = "person") -> MatchModel | None:
    """The newest trained model, if any."""
    row = session.execute(
        select(IdentityModel.model).where(IdentityModel.entity_type == entity).order_by(IdentityModel.id.desc()).limit(1)
    ).scalar()
    return MatchModel.from_dict(row) if row else None


def person_records(session: Session, only: Sequence[int] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every live, mapped person source record (or those of ``only``): (record id, what the
    resolver reads), streamed so that a large store never sits in memory as dicts."""
    q = (
        select(SourceRecord.id, SourceRecord.canonical, SourceRecord.echo)
        .join(Link, Link.source_record_id == SourceRecord.id)
        .join(Entity, Entity.id == Link.entity_id)
        .where(Entity.type == "person", SourceRecord.deleted.is_(False), SourceRecord.canonical.is_not(None))
        .order_by(SourceRecord.id)
    )
    if only is not None:  # by primary key: a join per slice would make SQLite walk the store each time
        q = select(SourceRecord.id, SourceRecord.canonical, SourceRecord.echo).where(SourceRecord.deleted.is_(False))
    parts = [q] if only is None else [q.where(SourceRecord.id.in_(part)) for part in chunks(sorted(only))]
    for part in parts:
        for rid, c, echo in session.execute(part.execution_options(yield_per=2000)):
            if c:
                yield rid, record_of(rid, c, echo)


def decisions(session: Session, entity: str = "person") -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(must, cannot) record pairs a person decided."""
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    for a, b, kind in session.execute(select(IdentityDecision.a, IdentityDecision.b, IdentityDecision.kind).where(IdentityDecision.entity_type == entity)):
        (must if kind == "must" else cannot).append((a, b))
    return must, cannot


def train(session: Session, config: ResolverConfig) -> tuple[MatchModel, list[Scored]]:
    """Learn the model on every person record, keep it, and return the batch run's decisions.

    The pairs returned are the probabilistic links the batch clustering kept and the pairs for
    review (manual decisions honoured); keys for every record are (re)written.
    """
    must, cannot = decisions(session)
    result = resolve(
        (r for _, r in person_records(session)),
        config,
        must_link=[(str(a), str(b)) for a, b in must],
        cannot_link=[(str(a), str(b)) for a, b in cannot],
    )
    rids = [int(r) for r in result.entity_of]
    model = result.model
    links = [lk for lk in result.links() if lk.rule == "probabilistic"]
    review = [(int(r.a), int(r.b), r.probability) for r in result.review]
    del result  # its feature table is the big part of a training's memory
    session.add(IdentityModel(entity_type="person", n_records=len(rids), model=model.to_dict(), created_at=utcnow()))
    keyed = set(session.scalars(select(IdentityBlock.source_record_id).distinct()))
    todo = [rid for rid in rids if rid not in keyed]
    for i in range(0, len(todo), 5000):  # in slices: features of a whole store would not fit
        write_keys(session, [(rid, extract(r, config)) for rid, r in person_records(session, todo[i : i + 5000])])
    needed = {int(x) for lk in links for x in (lk.a, lk.b)} | {x for a, b, _ in review for x in (a, b)}
    by_id = dict(person_records(session, sorted(needed)))
    feats: dict[int, Features] = {}

    def features(rid: int) -> Features:
        if rid not in feats:
            feats[rid] = extract(by_id[rid], config)
        return feats[rid]

    out: list[Scored] = []
    for lk in links:
        a, b = int(lk.a), int(lk.b)
        if contradiction(features(a), features(b)):
            review.append((a, b, lk.probability))
        else:
            out.append(_scored(a, b, lk.probability, True, {}))
    if review:  # their evidence, compared in one go
        rids = sorted({r for a, b, _ in review for r in (a, b)})
        table = FeatureTable(capacity=len(rids))
        row = {rid: table.append(features(rid)) for rid in rids}
        levels = compare(table, np.array([row[a] for a, _, _ in review]), np.array([row[b] for _, b, _ in review]))
        for i, (a, b, p) in enumerate(review):
            evidence = model.explain(table, levels, i)
            if why := contradiction(features(a), features(b)):
                evidence["guard"] = why
            out.append(_scored(a, b, p, False, evidence))
    return model, out


def contradiction(a: Features, b: Features) -> str | None:
    """Strong evidence of two people that a match probability must not outvote.

    A merge mails one customer's data to another, so the engine links automatically only when
    nothing personal disagrees; such a pair waits for review instead. Both records holding
    mobile numbers and sharing none is such evidence (family members and namesakes share a
    name, an address, even a landline — rarely a mobile), as are work e-mails or company names
    at different companies when no personal e-mail or mobile is shared. A person who changed
    jobs therefore waits for review rather than being merged on name and address alone.
    """
    if a.mobiles and b.mobiles and not set(a.mobiles) & set(b.mobiles):
        return "different mobile numbers"
    personal = set(a.emails) & set(b.emails) or set(a.mobiles) & set(b.mobiles)
    if personal:
        return None
    if a.org_domains and b.org_domains and not set(a.org_domains) & set(b.org_domains):
        return "work e-mails at different companies, and no personal e-mail or mobile in common"
    if a.org and b.org and not a.org.startswith("id:") and not b.org.startswith("id:") and a.org != b.org:
        return "different companies, and no personal e-mail or mobile in common"
    return None


def names_conflict(a: dict[str, Any], b: dict[str, Any], config: ResolverConfig) -> bool:
    """Whether two person records' names say they are different people.

    The guard of the deterministic layer (:func:`hub.identity.deterministic.incompatible_pairs`):
    an e-mail or mobile carried by people with incompatible names is a family's or a team's,
    not an identifier. Kana, romaji, variant kanji, swapped order, initials and a changed family
    name (marriage) stay compatible; a missing name never conflicts.
    """
    na = fold_name(a.get("family_name")), fold_name(a.get("given_name"))
    nb = fold_name(b.get("family_name")), fold_name(b.get("given_name"))
    if not any(na) or not any(nb) or na == nb or na == nb[::-1]:
        return False  # written the same (or not at all): nothing to weigh
    if _kanji_only(a) and not _has_kanji(b) or _kanji_only(b) and not _has_kanji(a):
        return False  # 山田 太郎 with no reading beside ヤマダ タロウ: nothing says they differ
    table = FeatureTable(capacity=2)
    ra = table.append(extract({**a, "record_id": "a"}, config))
    rb = table.append(extract({**b, "record_id": "b"}, config))
    return bool(incompatible_pairs(table, [(ra, rb)]))


_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _has_kanji(rec: dict[str, Any]) -> bool:
    return any(_KANJI.search(str(rec.get(k) or "")) for k in ("family_name", "given_name"))


def _kanji_only(rec: dict[str, Any]) -> bool:
    """Names in kanji without their kana reading: comparable only with other kanji."""
    return _has_kanji(rec) and not (rec.get("family_name_kana") or rec.get("given_name_kana"))


def _scored(a: int, b: int, p: float, link: bool, evidence: dict[str, Any]) -> Scored:
    return Scored(min(a, b), max(a, b), float(p), link, evidence)


# -- incremental -------------------------------------------------------------------------------------
def write_keys(session: Session, feats: Sequence[tuple[int, Features | None]]) -> dict[int, set[int]]:
    """Replace the blocking keys of these records (None: the record is gone); returns them."""
    rids = [rid for rid, _ in feats]
    for part in chunks(rids):
        session.execute(delete(IdentityBlock).where(IdentityBlock.source_record_id.in_(part)))
    keys = {rid: block_keys(f) for rid, f in feats if f is not None}
    bulk_insert(session, IdentityBlock, [{"key": k, "source_record_id": rid} for rid, ks in keys.items() for k in ks])
    return keys


def score(session: Session, model: MatchModel, config: ResolverConfig, rows: Sequence[tuple[int, dict[str, Any] | None]]) -> list[Scored]:
    """Key these records (:func:`record_of` dicts; None: deleted) and score them against every
    record they share a block with; returns the pairs at or above the review threshold."""
    feats = {rid: extract(r, config) if r is not None else None for rid, r in rows}
    keys = write_keys(session, list(feats.items()))
    wanted = sorted({k for ks in keys.values() for k in ks})
    sizes: dict[int, int] = {}
    for part in chunks(wanted):
        q = select(IdentityBlock.key, func.count()).where(IdentityBlock.key.in_(part)).group_by(IdentityBlock.key)
        sizes.update({k: n for k, n in session.execute(q)})
    usable = [k for k in wanted if 1 < sizes.get(k, 0) <= block_cap(k, config)]
    members: dict[int, list[int]] = {}
    for part in chunks(usable):
        for k, rid in session.execute(select(IdentityBlock.key, IdentityBlock.source_record_id).where(IdentityBlock.key.in_(part))):
            members.setdefault(k, []).append(rid)
    pairs: set[tuple[int, int]] = set()
    for rid, ks in keys.items():
        for k in ks:
            for other in members.get(k, ()):
                if other != rid:
                    pairs.add((min(rid, other), max(rid, other)))
    if not pairs:
        return []
    missing = sorted({r for p in pairs for r in p} - set(feats))
    for part in chunks(missing):
        q = select(SourceRecord.id, SourceRecord.canonical, SourceRecord.echo).where(SourceRecord.id.in_(part), SourceRecord.deleted.is_(False))
        for rid, c, echo in session.execute(q):
            if c:
                feats[rid] = extract(record_of(rid, c, echo), config)
    table = FeatureTable(capacity=len(feats))
    row = {rid: table.append(f) for rid, f in feats.items() if f is not None}
    todo = sorted(p for p in pairs if p[0] in row and p[1] in row)
    if not todo:
        return []
    levels = compare(table, np.array([row[a] for a, _ in todo]), np.array([row[b] for _, b in todo]))
    prob, decision = model.score(table, levels, config.high, config.low)
    out: list[Scored] = []
    for i in np.flatnonzero(decision >= REVIEW).tolist():
        a, b = todo[i]
        evidence = model.explain(table, levels, i)
        link = bool(decision[i] == LINK)
        if link and (why := contradiction(feats[a], feats[b])):  # type: ignore[arg-type]
            link, evidence["guard"] = False, why
        out.append(Scored(a, b, float(prob[i]), link, evidence))
    return out


def explain_pair(model: MatchModel, config: ResolverConfig, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per-field levels and weights of one pair (:func:`record_of` dicts) under ``model``."""
    table = FeatureTable(capacity=2)
    ra = table.append(extract(a, config))
    rb = table.append(extract(b, config))
    levels = compare(table, np.array([ra]), np.array([rb]))
    _, decision = model.score(table, levels, config.high, config.low)
    out = model.explain(table, levels, 0)
    out["decision"] = {LINK: "link", REVIEW: "review"}.get(int(decision[0]), "none")
    return out


def queue_reviews(session: Session, pairs: Sequence[Scored]) -> int:
    """Put review pairs in the queue (a pair already there, or decided, keeps its row)."""
    if not pairs:
        return 0
    seen: set[tuple[int, int]] = set()
    for part in chunks(sorted({p.a for p in pairs})):
        seen.update((a, b) for a, b in session.execute(select(IdentityReview.a, IdentityReview.b).where(IdentityReview.a.in_(part))))
    new = {(p.a, p.b): p for p in pairs if (p.a, p.b) not in seen}
    now = utcnow()
    bulk_insert(
        session,
        IdentityReview,
        [{"entity_type": "person", "kind": p.kind, "a": p.a, "b": p.b, "probability": p.probability, "evidence": p.evidence or None, "status": "open", "created_at": now} for p in new.values()],
    )
    return len(new)


def resolver_config(identity: Any, default_region: str) -> ResolverConfig:
    """The resolver settings of a workspace (``identity:`` and ``default_region`` in hub.yaml)."""
    return ResolverConfig(high=identity.high, low=identity.low, default_region=default_region)
