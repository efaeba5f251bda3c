"""The probabilistic identity layer of the engine: blocking keys, match model and scoring in the store.

The deterministic linker (:mod:`hub.linker`) joins records sharing a strong identifier while a
chunk is processed. This module adds what :mod:`hub.identity` knows beyond that: records that
share no identifier but agree on name, kana reading, address, organisation… are compared with a
Fellegi-Sunter model learnt (EM, no labels) on the workspace's own people.

* Every processed person record leaves its blocking keys in ``identity_blocks`` and its
  normalised features in ``identity_features``, so a new or changed record is compared with the
  records sharing a key — an indexed lookup, never a batch re-run.
* The first sync that sees enough people trains the model on them (one batch run of the
  resolver, on an even sample when the store holds more than ``identity.train_sample``; the
  pairs outside it are then scored slice by slice) and keeps it in ``identity_models``; later
  chunks score incrementally against it. ``hub identity train`` retrains.
* A pair at or above the high threshold links (the engine merges the two entities unless a
  person decided otherwise); a pair between the thresholds waits in ``identity_reviews``.

It knows the store and canonical records, never connectors.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from hub.identity import MatchModel, ResolverConfig
from hub.identity.blocking import KINDS, block_cap
from hub.identity.compare import PairLevels, compare
from hub.identity.deterministic import incompatible_pairs
from hub.identity.features import (
    Features,
    decode_features,
    encode_features,
    extract,
    features_stamp,
)
from hub.identity.model import LINK, REVIEW, Explanations
from hub.identity.resolver import resolve_table
from hub.identity.table import MULTI, FeatureTable, bulk
from hub.linker import fold_name
from hub.store.bulk import bulk_insert, chunks, insert_tuples
from hub.store.models import (
    Entity,
    IdentityBlock,
    IdentityDecision,
    IdentityFeatures,
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
    evidence: dict[str, Any] | Callable[[], dict[str, Any]]
    """Why; or what builds it when asked (:meth:`details`): a training's thousands of review
    pairs would hold kilobytes each until they are queued."""
    kind: str = "link"  # or "unlink": a linked record lost the identifier that linked it

    def details(self) -> dict[str, Any]:
        """The evidence, built now if it was deferred."""
        return self.evidence() if callable(self.evidence) else self.evidence


def record_of(rid: int, canonical: dict[str, Any], echo: Iterable[str] | None = None) -> dict[str, Any]:
    """A canonical person as the resolver reads it: the store's record id names it, and fields
    that are the hub's own writes read back (``echo``) are left out — they are evidence of an
    earlier decision, not of the person."""
    drop = set(echo or ()) - {"id"}
    return {**{k: v for k, v in canonical.items() if k not in drop}, "record_id": str(rid)}


# -- blocking keys ---------------------------------------------------------------------------------
def _hkey(kind: str, variant: int, *parts: str) -> int:
    """A stable 64-bit key: kind in the top bits (so block caps know it), a hash of the values."""
    return _TAGS[kind][variant] | _hash("\x1f".join(parts))


_TAGS = {kind: [(KINDS.index(kind) * 8 + variant) << 56 for variant in range(8)] for kind in KINDS}
_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes


def _hash(text: str) -> int:
    return _from_bytes(_blake2b(text.encode(), digest_size=8).digest(), "big") & _MASK


def block_keys(f: Features, cache: dict[str, int] | None = None) -> set[int]:
    """The blocking keys of one record, built from strings so they mean the same in every run.

    The same families of keys as the batch resolver's (:func:`hub.identity.blocking.row_keys`),
    which codes them per in-memory table: surname + given initial both ways in every script,
    the joined name, e-mail local parts, phones, street + house number in a postal code and in
    a town, postal code + a name part, organisation or domain + surname, birth date + an
    initial, national id. ``cache`` (text -> hash) spares hashing a value again: a surname
    and initial, a postal code and name recur across the records of a batch.
    """
    parts: list[tuple[int, str]] = []  # (tag, the values joined as :func:`_hkey` joins them)
    add = parts.append
    name, full, local, phone = _TAGS["name"][0], _TAGS["name"][1], _TAGS["local"][0], _TAGS["phone"][0]
    reps = ((f.family, f.given), (f.family_kana, f.given_kana), (f.family_roma, f.given_roma))
    for fam, giv in reps:
        if fam:
            add((name, f"{fam}\x1f{giv[:1]}"))
        if giv:
            add((name, f"{giv}\x1f{fam[:1]}"))
    if f.full:
        add((full, f.full))
    parts.extend((local, x) for x in f.email_locals)
    parts.extend((phone, x) for x in (*f.mobiles, *f.landlines))
    for variant, area in enumerate((f.postal, f.locality)):  # a mistyped postal code loses nothing
        if f.street and f.house and area:
            add((_TAGS["address"][variant], f"{f.street}\x1f{f.house}\x1f{area}"))
    if f.postal:
        postal = _TAGS["postal"][1]
        parts.extend((postal, f"{f.postal}\x1f{part}") for fam, giv in reps for part in (fam, giv) if part)
    org, domain = _TAGS["org"][0], _TAGS["org"][1]
    for fam, _ in reps:
        if fam and f.org:
            add((org, f"{f.org}\x1f{fam}"))
        if fam:
            parts.extend((domain, f"{d}\x1f{fam}") for d in f.org_domains)
    if f.birth:
        birth = _TAGS["birth"][0]
        parts.extend((birth, f"{f.birth}\x1f{x[:1]}") for x in (f.given, f.family) if x)
    if f.natid:
        add((_TAGS["natid"][0], f.natid))
    if cache is None:
        return {tag | _hash(text) for tag, text in parts}
    keys: set[int] = set()
    for tag, text in parts:
        h = cache.get(text)
        if h is None:
            h = cache[text] = _hash(text)
        keys.add(tag | h)
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
    q = _person_records().order_by(SourceRecord.id)
    if only is not None:  # by primary key: a join per slice would make SQLite walk the store each time
        q = select(SourceRecord.id, SourceRecord.canonical, SourceRecord.echo).where(SourceRecord.deleted.is_(False))
    parts = [q] if only is None else [q.where(SourceRecord.id.in_(part)) for part in chunks(sorted(only))]
    session.flush()  # what the ORM's autoflush would have done before its query
    conn = session.connection()  # Core rows: the ORM's per-row bookkeeping buys nothing here
    for part in parts:
        for rid, c, echo in conn.execute(part.execution_options(yield_per=2000)):
            if c:
                yield rid, record_of(rid, c, echo)


def _person_records() -> Select[tuple[int, Any, Any]]:
    return (
        select(SourceRecord.id, SourceRecord.canonical, SourceRecord.echo)
        .join(Link, Link.source_record_id == SourceRecord.id)
        .join(Entity, Entity.id == Link.entity_id)
        .where(Entity.type == "person", SourceRecord.deleted.is_(False), SourceRecord.canonical.is_not(None))
    )


def decisions(session: Session, entity: str = "person") -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(must, cannot) record pairs a person decided."""
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    for a, b, kind in session.execute(select(IdentityDecision.a, IdentityDecision.b, IdentityDecision.kind).where(IdentityDecision.entity_type == entity)):
        (must if kind == "must" else cannot).append((a, b))
    return must, cannot


def train(session: Session, config: ResolverConfig, sample: int | None = None) -> tuple[MatchModel, Iterator[tuple[int, list[Scored]]]]:
    """Learn the model on the person records and decide their pairs; returns the model and its
    decisions a slice at a time — (records the slice covers, its pairs) — to apply in order
    (the model is kept once the last is taken).

    Up to ``sample`` records, one batch run of the resolver learns the model and decides every
    pair: the probabilistic links its clustering kept and the pairs for review (manual decisions
    honoured). Above, it learns on ``sample`` records spread evenly over the store, decides their
    pairs, and then every other pair sharing a key is scored against the model the way an
    incremental sync scores a changed record, a slice of records at a time, so that memory stays
    that of ``sample`` records however large the store (and 8 bytes per block that yields
    pairs). Each record is read, decoded and normalised once: its features and keys go to the
    store in the same pass. A review pair's evidence is built when it is queued.
    """
    n = session.scalar(select(func.count()).select_from(_person_records().subquery())) or 0
    sampled = _sampler(n, sample)
    must, cannot = decisions(session)
    table, ids, spill = _load(session, config, sampled)
    result = resolve_table(
        table,
        config,
        must_link=[(str(a), str(b)) for a, b in must],
        cannot_link=[(str(a), str(b)) for a, b in cannot],
    )
    model = result.model
    (la, lb, lp), (ra, rb, rp) = result.decided_rows()
    del result  # its pairs and per-record maps are the big part of a training's memory
    out: list[Scored] = []
    link_why, link_keep = _guards(table, la, lb, spill)
    held = [i for i, why in enumerate(link_why) if why and link_keep[i]]
    out.extend(_scored(int(ids[la[i]]), int(ids[lb[i]]), float(lp[i]), True, {}) for i, why in enumerate(link_why) if not why)
    # review pairs, then links a contradiction holds back, as the batch run listed them
    review_why, keep = _guards(table, ra, rb, spill)
    ra, rb, rp = np.concatenate([ra[keep], la[held]]), np.concatenate([rb[keep], lb[held]]), np.concatenate([rp[keep], lp[held]])
    if len(ra):
        guards = [*(w for w, k in zip(review_why, keep.tolist(), strict=True) if k), *(link_why[i] for i in held)]
        evidence = _Evidence(model.explanations(table, compare(table, ra, rb)), guards)
        xa, xb = ids[ra], ids[rb]
        pa, pb = np.minimum(xa, xb).tolist(), np.maximum(xa, xb).tolist()
        out.extend(Scored(x, y, p, False, partial(evidence, i)) for i, (x, y, p) in enumerate(zip(pa, pb, rp.tolist())))
    covered = table.n if sampled is None else 0  # with a sample, the slices cover every record
    del table, ids, spill
    return model, _decided(session, model, config, (covered, out), sampled)


def _decided(
    session: Session, model: MatchModel, config: ResolverConfig, batch: tuple[int, list[Scored]], sampled: Callable[[int], bool] | None
) -> Iterator[tuple[int, list[Scored]]]:
    yield batch
    del batch
    if sampled is not None:
        yield from _score_rest(session, model, config, sampled)
    # kept last: a training cut short (a crash, Ctrl-C) leaves no model, so the next sync trains again
    session.add(IdentityModel(entity_type="person", n_records=model.n_records, model=model.to_dict(), created_at=utcnow()))


def _sampler(n: int, size: int | None) -> Callable[[int], bool] | None:
    """Whether a record id is in an even sample of about ``size`` of ``n`` records (None: all are)."""
    if size is None or n <= size:
        return None
    cut = int(size / n * _M64)
    # Fibonacci hashing: consecutive ids land evenly over the range, so the sample is even too
    return lambda rid: (rid * 0x9E3779B97F4A7C15) & (_M64 - 1) < cut


_M64 = 1 << 64


def _score_rest(
    session: Session, model: MatchModel, config: ResolverConfig, sampled: Callable[[int], bool]
) -> Iterator[tuple[int, list[Scored]]]:
    """Every pair sharing a key that the sample's batch run did not decide — those with a record
    outside the sample — scored a slice of such records at a time: a pair with the sample by its
    other record, a pair of two others by its later one."""
    stamp = features_stamp(config)
    usable = _usable_keys(session, config)
    cache: dict[str, int] = {}
    last = 0
    while True:
        q = select(IdentityFeatures.source_record_id, IdentityFeatures.data).where(IdentityFeatures.source_record_id > last)
        rows = session.execute(q.order_by(IdentityFeatures.source_record_id).limit(_SLICE)).all()
        if not rows:
            return
        last = rows[-1][0]
        feats = {rid: f for rid, data in rows if not sampled(rid) and (f := decode_features(str(rid), data, stamp)) is not None}
        if len(cache) > _HASHES:
            cache.clear()
        keys = {rid: block_keys(f, cache) for rid, f in feats.items()}
        yield len(rows), _score(session, model, config, feats, keys, lambda rid, other: other < rid or sampled(other), usable)


def _usable_keys(session: Session, config: ResolverConfig) -> np.ndarray:
    """The keys of every block that yields pairs (two records up to its cap), sorted: counted in
    one pass over the index instead of a lookup per key of every record (most keys are a
    record's own)."""
    keys = array("q")
    q = select(IdentityBlock.key, func.count()).group_by(IdentityBlock.key).having(func.count() > 1)
    for k, n in session.connection().execute(q.execution_options(yield_per=100_000)):
        if _yields_pairs(k, n, config):
            keys.append(k)
    return np.sort(np.frombuffer(keys, dtype=np.int64))


def _yields_pairs(key: int, size: int, config: ResolverConfig) -> bool:
    """Whether a block of ``size`` records under ``key`` is compared: two or more, up to its cap."""
    return 1 < size <= block_cap(key, config)


_SLICE = 5000
"""Records whose keys are written at once while training reads the store."""


def _load(
    session: Session, config: ResolverConfig, sampled: Callable[[int], bool] | None = None
) -> tuple[FeatureTable, np.ndarray, dict[int, Features]]:
    """Every person record's features (or those ``sampled``) in one table (row order = record
    id order), the record id of each row, and the full features of rows holding more e-mails,
    mobiles or corporate domains than the table keeps (:func:`_contradictions` needs them all).

    Every record's features go to the store on the way, and a record with no blocking keys
    there gets them, slice by slice.
    """
    table = FeatureTable()
    ids: list[int] = []
    spill: dict[int, Features] = {}
    batch: list[tuple[int, Features]] = []
    rows: list[Features] = []
    fresh = session.execute(select(IdentityBlock.source_record_id).limit(1)).first() is None
    session.execute(delete(IdentityFeatures))  # all made again, with today's code and settings
    stamp = features_stamp(config)
    cache: dict[str, int] = {}

    def flush() -> None:
        _insert_features(session, batch, stamp)
        todo = batch
        if not fresh:  # a retraining keys only what has no keys yet
            lo, hi = batch[0][0], batch[-1][0]
            q = select(IdentityBlock.source_record_id).where(IdentityBlock.source_record_id.between(lo, hi)).distinct()
            keyed = set(session.scalars(q))
            todo = [(rid, f) for rid, f in batch if rid not in keyed]
        if len(cache) > _HASHES:
            cache.clear()
        _insert_keys(session, [(k, rid) for rid, f in todo for k in block_keys(f, cache)])
        batch.clear()
        table.extend(rows)
        rows.clear()

    with bulk():
        previous = 0
        for rid, record in person_records(session):
            if rid <= previous:
                raise ValueError(f"record {str(rid)!r} appears twice; ids must be unique")
            previous = rid
            f = extract(record, config)
            batch.append((rid, f))
            if sampled is None or sampled(rid):
                if len(f.emails) > _WIDTH["emails"] or len(f.mobiles) > _WIDTH["mobiles"] or len(f.org_domains) > _WIDTH["org_domains"]:
                    spill[len(ids)] = f
                ids.append(rid)
                rows.append(f)
            if len(batch) >= _SLICE:
                flush()
        if batch:
            flush()
        table.compact()
    return table, np.array(ids, dtype=np.int64), spill


_HASHES = 1 << 17
"""Hashes of key texts kept while training: a surname and initial recur, most texts do not."""

_WIDTH = {col: width for col, (_, width) in MULTI.items()}


def _guards(table: FeatureTable, a: np.ndarray, b: np.ndarray, spill: dict[int, Features]) -> tuple[list[str | None], np.ndarray]:
    """Per pair of table rows: what speaks against it (:func:`contradiction`), and whether it
    is worth a person's question — not two namesakes the guards speak against (see
    :func:`shares_beyond_name`)."""
    why = _contradictions(table, a, b, spill)
    keep = ~np.array([bool(w) for w in why], dtype=bool) | _beyond_name(table, a, b, spill)
    return why, keep


def _contradictions(table: FeatureTable, a: np.ndarray, b: np.ndarray, spill: dict[int, Features]) -> list[str | None]:
    """:func:`contradiction` of many pairs of table rows at once (``spill``: the full features
    of rows the table holds only in part)."""
    n = len(a)
    out: list[str | None] = [None] * n
    if not n:
        return out
    cols = table.cols
    mob_a, mob_b = cols["mobiles"][a], cols["mobiles"][b]
    dom_a, dom_b = cols["org_domains"][a], cols["org_domains"][b]
    org_a, org_b = cols["org"][a], cols["org"][b]
    shared_mobile = _any_equal(mob_a, mob_b)
    mobiles = (mob_a[:, 0] != 0) & (mob_b[:, 0] != 0) & ~shared_mobile
    personal = _any_equal(cols["emails"][a], cols["emails"][b]) | shared_mobile
    domains = ~mobiles & ~personal & (dom_a[:, 0] != 0) & (dom_b[:, 0] != 0) & ~_any_equal(dom_a, dom_b)
    ref = table.flag("org", "ref", lambda s: s.startswith("id:"))
    orgs = ~mobiles & ~personal & ~domains & (org_a != 0) & (org_b != 0) & ~ref[org_a] & ~ref[org_b] & (org_a != org_b)
    for i in np.flatnonzero(mobiles).tolist():
        out[i] = _MOBILES
    for i in np.flatnonzero(domains).tolist():
        out[i] = _DOMAINS
    for i in np.flatnonzero(orgs).tolist():
        out[i] = _COMPANIES
    if spill:  # the exact test for pairs with a record the table holds only in part
        for i in np.flatnonzero(np.isin(a, list(spill)) | np.isin(b, list(spill))).tolist():
            out[i] = contradiction(_row(table, int(a[i]), spill, _CONTACTS), _row(table, int(b[i]), spill, _CONTACTS))
    return out


def _beyond_name(table: FeatureTable, a: np.ndarray, b: np.ndarray, spill: dict[int, Features]) -> np.ndarray:
    """:func:`shares_beyond_name` of many pairs of table rows at once."""
    cols = table.cols
    out = np.zeros(len(a), dtype=bool)
    for col in ("emails", "mobiles", "landlines"):
        out |= _any_equal(cols[col][a], cols[col][b])
    same = {col: (cols[col][a] != 0) & (cols[col][a] == cols[col][b]) for col in ("birth", "natid", "postal", "locality", "street")}
    out |= same["birth"] | same["natid"] | same["street"] & (same["postal"] | same["locality"])
    if spill:
        for i in np.flatnonzero(np.isin(a, list(spill)) | np.isin(b, list(spill))).tolist():
            out[i] = shares_beyond_name(_row(table, int(a[i]), spill, _IDENTIFYING), _row(table, int(b[i]), spill, _IDENTIFYING))
    return out


_CONTACTS = ("emails", "mobiles", "org", "org_domains")
"""What :func:`contradiction` reads of a record."""
_IDENTIFYING = ("emails", "mobiles", "landlines", "birth", "natid", "postal", "locality", "street")
"""What :func:`shares_beyond_name` reads of a record."""


def _row(table: FeatureTable, row: int, spill: dict[int, Features], columns: tuple[str, ...]) -> Features:
    """The ``columns`` of one table row as Features (``spill``: rows the table holds in part)."""
    if row in spill:
        return spill[row]
    return Features(record_id=table.record_ids[row], **{c: table.value(c, row) for c in columns})


def shares_beyond_name(a: Features, b: Features) -> bool:
    """Whether two records agree on anything but the name: an e-mail, a phone, a birth date,
    a national id, or an address (the street, within the same postcode or town: a postcode
    alone is a neighbourhood, and 中央1-2-3 is in many towns).

    A pair the model links on the name alone (its e-mail's local part, kana and romaji are the
    name again) while :func:`contradiction` finds them at different companies or on different
    mobiles is two namesakes; asking a person about every such pair would bury the questions
    worth asking (one per common name and pair of people, growing with the square of the store).
    """
    if set(a.emails) & set(b.emails) or set(a.mobiles) & set(b.mobiles) or set(a.landlines) & set(b.landlines):
        return True
    if any(x and x == y for x, y in ((a.birth, b.birth), (a.natid, b.natid))):
        return True
    return bool(a.street and a.street == b.street and (a.postal and a.postal == b.postal or a.locality and a.locality == b.locality))


def _any_equal(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row, whether a known code of ``x`` is among ``y``'s."""
    out = np.zeros(len(x), dtype=bool)
    for i in range(x.shape[1]):
        known = x[:, i] != 0
        for j in range(y.shape[1]):
            out |= known & (x[:, i] == y[:, j])
    return out


class _Evidence:
    """The evidence of training's review pairs, built per pair when it is queued."""

    __slots__ = ("explained", "guards")

    def __init__(self, explained: Explanations, guards: list[str | None]) -> None:
        self.explained, self.guards = explained, guards

    def __call__(self, i: int) -> dict[str, Any]:
        evidence = self.explained[i]
        if why := self.guards[i]:
            evidence["guard"] = why
        return evidence


_MOBILES = "different mobile numbers"
_DOMAINS = "work e-mails at different companies, and no personal e-mail or mobile in common"
_COMPANIES = "different companies, and no personal e-mail or mobile in common"


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
        return _MOBILES
    personal = set(a.emails) & set(b.emails) or set(a.mobiles) & set(b.mobiles)
    if personal:
        return None
    if a.org_domains and b.org_domains and not set(a.org_domains) & set(b.org_domains):
        return _DOMAINS
    if a.org and b.org and not a.org.startswith("id:") and not b.org.startswith("id:") and a.org != b.org:
        return _COMPANIES
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


def _scored(a: int, b: int, p: float, link: bool, evidence: dict[str, Any] | Callable[[], dict[str, Any]]) -> Scored:
    return Scored(min(a, b), max(a, b), float(p), link, evidence)


# -- incremental -------------------------------------------------------------------------------------
def write_keys(session: Session, feats: Sequence[tuple[int, Features | None]], config: ResolverConfig) -> dict[int, set[int]]:
    """Replace the blocking keys and stored features of these records (None: the record is
    gone); returns the keys."""
    rids = [rid for rid, _ in feats]
    for part in chunks(rids):
        session.execute(delete(IdentityBlock).where(IdentityBlock.source_record_id.in_(part)))
        session.execute(delete(IdentityFeatures).where(IdentityFeatures.source_record_id.in_(part)))
    stamp = features_stamp(config)
    _insert_features(session, [(rid, f) for rid, f in feats if f is not None], stamp)
    keys = {rid: block_keys(f) for rid, f in feats if f is not None}
    _insert_keys(session, [(k, rid) for rid, ks in keys.items() for k in ks])
    return keys


def _insert_features(session: Session, feats: Sequence[tuple[int, Features]], stamp: int) -> None:
    insert_tuples(session, IdentityFeatures, ("source_record_id", "data"), [(rid, encode_features(f, stamp)) for rid, f in feats])


def _insert_keys(session: Session, rows: list[tuple[int, int]]) -> None:
    """(key, record id) rows: a training writes some fourteen a record. Inserted in key order:
    consecutive rows land on the same pages of the key tree, about three times faster on SQLite
    than record by record."""
    insert_tuples(session, IdentityBlock, ("key", "source_record_id"), sorted(rows))


def stored_features(session: Session, rids: Iterable[int], config: ResolverConfig) -> dict[int, Features]:
    """The features of these live records: decoded from the store, or made again from their
    canonical record where the store's were made with other code or settings (or are missing)."""
    stamp = features_stamp(config)
    out: dict[int, Features] = {}
    wanted = sorted(rids)
    for part in chunks(wanted):
        q = select(IdentityFeatures.source_record_id, IdentityFeatures.data).where(IdentityFeatures.source_record_id.in_(part))
        for rid, data in session.execute(q):
            if (f := decode_features(str(rid), data, stamp)) is not None:
                out[rid] = f
    for rid, record in person_records(session, only=[rid for rid in wanted if rid not in out]):
        out[rid] = extract(record, config)
    return out


def score(session: Session, model: MatchModel, config: ResolverConfig, rows: Sequence[tuple[int, dict[str, Any] | None]]) -> list[Scored]:
    """Key these records (:func:`record_of` dicts; None: deleted) and score them against every
    record they share a block with; returns the pairs at or above the review threshold."""
    feats = [(rid, extract(r, config) if r is not None else None) for rid, r in rows]
    keys = write_keys(session, feats, config)
    return _score(session, model, config, {rid: f for rid, f in feats if f is not None}, keys)


def _score(
    session: Session,
    model: MatchModel,
    config: ResolverConfig,
    feats: dict[int, Features],
    keys: dict[int, set[int]],
    wanted: Callable[[int, int], bool] | None = None,
    usable_keys: np.ndarray | None = None,
) -> list[Scored]:
    """Score records (their features and keys) against every record sharing a usable key with
    them (``usable_keys``, sorted, when known: :func:`_usable_keys`), the pairs ``wanted(record,
    other)`` says (default: all); returns those at or above the review threshold."""
    needed = sorted({k for ks in keys.values() for k in ks})
    if usable_keys is None:
        sizes: dict[int, int] = {}
        for part in chunks(needed):
            q = select(IdentityBlock.key, func.count()).where(IdentityBlock.key.in_(part)).group_by(IdentityBlock.key)
            sizes.update({k: n for k, n in session.execute(q)})
        usable = [k for k in needed if _yields_pairs(k, sizes.get(k, 0), config)]
    else:
        probe = np.array(needed, dtype=np.int64)
        at = np.minimum(np.searchsorted(usable_keys, probe), max(len(usable_keys) - 1, 0))
        usable = probe[usable_keys[at] == probe].tolist() if len(usable_keys) else []
    members: dict[int, list[int]] = {}
    for part in chunks(usable):
        for k, rid in session.execute(select(IdentityBlock.key, IdentityBlock.source_record_id).where(IdentityBlock.key.in_(part))):
            members.setdefault(k, []).append(rid)
    pairs: set[tuple[int, int]] = set()
    for rid, ks in keys.items():
        for k in ks:
            for other in members.get(k, ()):
                if other != rid and (wanted is None or wanted(rid, other)):
                    pairs.add((min(rid, other), max(rid, other)))
    if not pairs:
        return []
    feats = {**stored_features(session, {r for p in pairs for r in p} - feats.keys(), config), **feats}
    table = FeatureTable(capacity=len(feats))
    row = {rid: table.append(f) for rid, f in feats.items()}
    todo = sorted(p for p in pairs if p[0] in row and p[1] in row)
    if not todo:
        return []
    levels = compare(table, np.array([row[a] for a, _ in todo]), np.array([row[b] for _, b in todo]))
    prob, decision = model.score(table, levels, config.high, config.low)
    out: list[Scored] = []
    kept = np.flatnonzero(decision >= REVIEW)
    explained = model.explanations(table, _take(levels, kept))
    for j, i in enumerate(kept.tolist()):
        a, b = todo[i]
        evidence = explained[j]
        link = bool(decision[i] == LINK)
        if why := contradiction(feats[a], feats[b]):
            if not shares_beyond_name(feats[a], feats[b]):
                continue  # namesakes (see shares_beyond_name)
            link, evidence["guard"] = False, why
        out.append(Scored(a, b, float(prob[i]), link, evidence))
    return out


def _take(pairs: PairLevels, idx: np.ndarray) -> PairLevels:
    """The pairs at ``idx``."""
    return PairLevels(levels=pairs.levels[:, idx], tf_codes={k: v[idx] for k, v in pairs.tf_codes.items()}, flags=pairs.flags[idx])


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
    new = list({(p.a, p.b): p for p in pairs if (p.a, p.b) not in seen}.values())
    now = utcnow()
    for part in chunks(new, _SLICE):  # deferred evidence is built (and dropped) a slice at a time
        bulk_insert(
            session,
            IdentityReview,
            [{"entity_type": "person", "kind": p.kind, "a": p.a, "b": p.b, "probability": p.probability, "evidence": p.details() or None, "status": "open", "created_at": now} for p in part],
        )
    return len(new)


def resolver_config(identity: Any, default_region: str) -> ResolverConfig:
    """The resolver settings of a workspace (``identity:`` and ``default_region`` in hub.yaml)."""
    return ResolverConfig(high=identity.high, low=identity.low, default_region=default_region)
