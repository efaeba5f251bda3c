"""Identity resolution: deterministic and probabilistic, incremental, explainable, reversible.

Layers, each in its own module:

* :mod:`~hub.identity.normalize` — matching keys for e-mails, phones, names (kana, romaji,
  variant kanji, honorifics, placeholder names), organisations and addresses; word lists
  (nicknames and given names too) in ``lexicon/``.
* :mod:`~hub.identity.features` / :mod:`~hub.identity.columns` — a record (or flat columns)
  to its normalised features; :mod:`~hub.identity.table` stores them as integer codes.
* :mod:`~hub.identity.blocking` — candidate pairs; :mod:`~hub.identity.compare` — comparison
  levels; :mod:`~hub.identity.model` / :mod:`~hub.identity.estimate` — Fellegi-Sunter scoring
  with m and u learnt by EM and random sampling, and term-frequency adjustment.
* :mod:`~hub.identity.deterministic` — the identifier graph with its guards;
  :mod:`~hub.identity.partial` — a record missing a name part linked to the one person it can
  be; :mod:`~hub.identity.cluster` — clustering, cannot-links, stable entity ids.
* :mod:`~hub.identity.resolver` — the batch API; :mod:`~hub.identity.index` — the incremental
  one; :mod:`~hub.identity.files` — resolving JSONL/CSV files.

Storing the incremental index in SQL (what :meth:`IdentityIndex.to_state` holds):

* ``identity_model(id, created_at, config JSON, model JSON)`` — m, u, prior, term frequencies;
  one row per trained model, the index points at one.
* ``identity_record(record_id PK, row_no, features JSON, entity_id, updated_at)`` — the
  normalised features (so nothing is normalised again on load) and the current entity.
* ``identity_block(key BIGINT, record_id, PRIMARY KEY(key, record_id))`` with an index on key —
  blocking keys (64-bit, from :func:`blocking.row_keys`); block size is ``COUNT(*)``.
* ``identity_identifier(kind, value, record_id, PRIMARY KEY(kind, value, record_id))`` — the
  identifier graph's carriers (own refs are implied by record_id).
* ``identity_edge(a, b, probability, decision, PRIMARY KEY(a, b))`` with a < b — scored pairs
  at or above the review threshold (decision 1 review, 2 link, as scored: a pair with a
  record missing a name part is re-decided from its record's other edges on clustering).
* ``identity_link(a, b, kind, value, PRIMARY KEY(a, b))`` — deterministic links and why.
* ``identity_constraint(a, b, kind CHECK (kind IN ('must', 'cannot')), decided_by, decided_at)``
  — manual merges and splits.
* ``identity_entity_redirect(old_entity_id PK, new_entity_id, at)`` — retired ids.
The sorted neighbourhood is rebuilt from ``identity_record`` on load (an index on
``(sort_lo, sort_hi, record_id)`` would serve it directly).
"""

from __future__ import annotations

from hub.identity.config import ResolverConfig
from hub.identity.files import resolve_file
from hub.identity.index import Decision, IdentityIndex, build_index
from hub.identity.model import MatchModel
from hub.identity.resolver import Link, Result, ReviewPair, resolve, resolve_columns

__all__ = [
    "Decision",
    "IdentityIndex",
    "Link",
    "MatchModel",
    "ResolverConfig",
    "Result",
    "ReviewPair",
    "build_index",
    "resolve",
    "resolve_columns",
    "resolve_file",
]
