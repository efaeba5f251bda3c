"""The Fellegi-Sunter match model: level weights, term-frequency tables, prior, scoring.

A pair's match weight is ``log2(prior odds) + sum of log2(m/u)`` over its comparison levels,
where ``m`` is how often matching records show that level and ``u`` how often non-matching ones
do. An exact agreement on a name, postal code, town or street is re-weighted by how common the
value is: 佐藤 or "Smith" agree by chance far more often than a rare surname, so their ``u`` is
the value's own frequency. The probability is ``2^w / (1 + 2^w)``.

Guards sit on top of the arithmetic, because the independence assumption fails exactly in the
traps customer data is full of: when the given names clearly differ and nothing personal
(e-mail, birth date, national id) agrees, shared context — a family's landline and address, a
company's main line, domain and surname — cannot link two people; with a shared mobile number
the pair goes to review at most, and so does a pair where one side has no given name at all
(:mod:`~hub.identity.partial` links it after all when the record can be only one person).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub.identity.compare import (
    COMPARISONS,
    GIVEN_CONFLICT,
    GIVEN_MISSING,
    LEVELS,
    MOBILE,
    PERSONAL,
    TF_COMPARISONS,
    PairLevels,
)
from hub.identity.table import SINGLE, FeatureTable

TF_VOCAB: dict[str, str] = {"family": "name", "given": "name"}
_TF_MAX_GAIN = 8.0
"""A rare value may add at most this many bits over the comparison's average exact weight."""

_SCORE_SLICE = 1 << 20
"""Pairs weighed at once by :meth:`MatchModel.score`."""

LINK, REVIEW, NONE = 2, 1, 0
DECISIONS = {LINK: "link", REVIEW: "review", NONE: "none"}


def default_m(levels: int) -> list[float]:
    """A starting (and fallback) ``m``: matches mostly agree exactly, sometimes nearly."""
    raw = [0.0] + [0.02 * 2 ** (i - 1) for i in range(1, levels - 1)] + [0.0]
    raw[-1] = 0.85 * sum(raw[1:-1]) / 0.15 if levels > 2 else 1.0
    total = sum(raw[1:])
    return [0.0] + [x / total for x in raw[1:]]


@dataclass
class MatchModel:
    """Parameters learnt from the data (or loaded): everything scoring needs, JSON-serialisable.

    Attributes:
        m: Comparison -> per level, P(level | match); index 0 (null) is unused.
        u: Comparison -> per level, P(level | non-match).
        prior: Probability that two records drawn at random are the same entity.
        tf: Comparison -> value -> share of records holding it (values seen twice or more).
        n_records: How many records the model was estimated on (a value never seen counts as
            held by one of them).
        sessions: Per EM session (blocking kind), pairs used, iterations, prior found.
    """

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    n_records: int = 1
    sessions: dict[str, dict[str, float]] = field(default_factory=dict)

    # -- weights -----------------------------------------------------------------------------
    def level_weights(self) -> dict[str, np.ndarray]:
        """Comparison -> log2(m/u) per level (0 for null)."""
        out: dict[str, np.ndarray] = {}
        for comp in COMPARISONS:
            m = np.maximum(np.asarray(self.m[comp], dtype=np.float64), 1e-9)
            u = np.maximum(np.asarray(self.u[comp], dtype=np.float64), 1e-12)
            w = np.log2(m / u)
            w[0] = 0.0
            out[comp] = w
        return out

    def _tf_array(self, table: FeatureTable, comp: str) -> np.ndarray:
        """Vocabulary code -> frequency of the value, for one comparison on one table."""
        strings = table.vocabs[TF_VOCAB[comp]].strings
        floor = 1.0 / max(self.n_records, 1)
        freqs = self.tf.get(comp, {})
        return table.grown(
            ("tf", comp, id(self)),
            len(strings),
            lambda a, b: np.fromiter((freqs.get(s, floor) for s in strings[a:b]), dtype=np.float64, count=b - a),
            np.float64,
        )

    def match_weight(
        self, table: FeatureTable, pairs: PairLevels, keep_parts: bool = True
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Total match weight (bits, prior included) per pair, and the per-comparison parts
        (left empty unless ``keep_parts``: on millions of pairs they cost more than the total)."""
        weights = self.level_weights()
        parts: dict[str, np.ndarray] = {}
        total = np.full(pairs.levels.shape[1], math.log2(self.prior / (1 - self.prior)), dtype=np.float64)
        for i, comp in enumerate(COMPARISONS):
            lv = pairs.levels[i]
            w = weights[comp][lv]
            if comp in TF_COMPARISONS and comp in pairs.tf_codes:
                codes = pairs.tf_codes[comp]
                hit = codes != 0
                if hit.any():
                    exact = len(LEVELS[comp]) - 1
                    u_exact = max(self.u[comp][exact], 1e-12)
                    # the gain, then the adjusted weight, computed in place in one array
                    gain = self._tf_array(table, comp)[codes[hit]]
                    np.maximum(gain, 1e-12, out=gain)
                    np.divide(u_exact, gain, out=gain)
                    np.log2(gain, out=gain)
                    np.clip(gain, -64.0, _TF_MAX_GAIN, out=gain)
                    # never below the next level down: a common name agreeing exactly is still
                    # better evidence than the same name with a typo
                    floor = weights[comp][exact - 1] if exact - 1 >= 1 else -64.0
                    gain += w[hit]
                    # ``w`` is already a fresh array (fancy indexing): changed in place
                    w[hit] = np.maximum(gain, floor, out=gain)
            if keep_parts:
                parts[comp] = w
            total += w
        return total, parts

    def score(self, table: FeatureTable, pairs: PairLevels, high: float, low: float) -> tuple[np.ndarray, np.ndarray]:
        """(probability, decision) per pair; decisions are :data:`LINK`, :data:`REVIEW`, :data:`NONE`."""
        n = pairs.levels.shape[1]
        prob = np.empty(n, dtype=np.float64)
        # in slices, and 1 / (1 + 2^-w) in place: on millions of pairs each temporary of the
        # weights would be another array of them
        for i in range(0, n, _SCORE_SLICE):
            weight, _ = self.match_weight(table, _span(pairs, i, i + _SCORE_SLICE), keep_parts=False)
            p = prob[i : i + len(weight)]
            np.clip(weight, -200, 200, out=p)
            np.negative(p, out=p)
            np.exp2(p, out=p)
            p += 1.0
            np.divide(1.0, p, out=p)
            del weight
        decision = np.full(len(prob), NONE, dtype=np.int8)
        decision[prob >= low] = REVIEW
        decision[prob >= high] = LINK
        impersonal = (pairs.flags & PERSONAL) == 0
        conflict = ((pairs.flags & GIVEN_CONFLICT) != 0) & impersonal
        missing = ((pairs.flags & GIVEN_MISSING) != 0) & impersonal
        mobile = (pairs.flags & MOBILE) != 0
        capped = (conflict & mobile) | missing
        decision[capped] = np.minimum(decision[capped], REVIEW)
        decision[conflict & ~mobile] = NONE
        return prob, decision

    def explain(self, table: FeatureTable, pairs: PairLevels, i: int) -> dict[str, Any]:
        """Why pair ``i`` of ``pairs`` scored as it did: level and weight per comparison."""
        return self.explanations(table, _slice(pairs, i))[0]

    def explanations(self, table: FeatureTable, pairs: PairLevels) -> Explanations:
        """:meth:`explain` for every pair of ``pairs``, weighed in one pass: thousands of review
        pairs would otherwise each recompute the level weights and term frequencies."""
        weight, parts = self.match_weight(table, pairs)
        return Explanations(
            weight=weight,
            # pair-major, so that one pair's values are one contiguous row
            parts=np.stack([parts[c] for c in COMPARISONS], axis=1) if len(weight) else np.zeros((0, len(COMPARISONS))),
            levels=np.ascontiguousarray(pairs.levels.T, dtype=np.int8),
            flags=np.array(pairs.flags),
            prior_weight=round(math.log2(self.prior / (1 - self.prior)), 3),
        )

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the hub keeps it in its store)."""
        return {
            "version": 2,
            "levels": {c: list(LEVELS[c]) for c in COMPARISONS},
            "m": self.m,
            "u": self.u,
            "prior": self.prior,
            "tf": self.tf,
            "n_records": self.n_records,
            "sessions": self.sessions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        """Inverse of :meth:`to_dict`."""
        labels = data.get("levels", _V1_LEVELS)
        return cls(
            m={k: _by_label(k, v, labels.get(k)) for k, v in data["m"].items()},
            u={k: _by_label(k, v, labels.get(k)) for k, v in data["u"].items()},
            prior=float(data["prior"]),
            tf={k: dict(v) for k, v in data.get("tf", {}).items()},
            n_records=int(data.get("n_records", 1)),
            sessions=dict(data.get("sessions", {})),
        )


_V1_LEVELS: dict[str, list[str]] = {"given": ["null", "else", "initial", "jw80", "jw90", "jw95", "exact"]}
"""Level labels a version-1 model was stored with, where they differ from today's."""


def _by_label(comp: str, values: list[float], labels: list[str] | None) -> list[float]:
    """Stored per-level values of ``comp`` laid out as today's levels.

    A level the stored model did not know gets m = u (no weight) until the model is retrained.
    """
    current = LEVELS.get(comp)
    if labels is None or current is None or list(labels) == list(current):
        return list(values)
    stored = dict(zip(labels, values))
    return [stored.get(label, 1e-6) for label in current]


@dataclass(frozen=True, slots=True)
class Explanations:
    """Weighed pairs whose explanations are built one at a time, when asked for: a dict per
    pair costs some kilobytes, arrays per pair some ninety bytes.

    Attributes:
        weight: Total match weight per pair (bits, prior included).
        parts: (pairs, comparisons) weight of each comparison's level.
        levels: (pairs, comparisons) levels.
        flags: Pair flags (:data:`~hub.identity.compare.GIVEN_CONFLICT`…).
        prior_weight: The prior's weight, rounded as shown.
    """

    weight: np.ndarray
    parts: np.ndarray
    levels: np.ndarray
    flags: np.ndarray
    prior_weight: float

    def __len__(self) -> int:
        return len(self.weight)

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Level and weight per comparison of pair ``i``, its total, probability and guard."""
        fields: dict[str, Any] = {}
        for comp, level, part in zip(COMPARISONS, self.levels[i].tolist(), self.parts[i].tolist()):
            if level:
                fields[comp] = {"level": LEVELS[comp][level], "weight": round(part, 3)}
        flags = int(self.flags[i])
        guard = None
        if flags & GIVEN_CONFLICT and not flags & PERSONAL:
            guard = "given names differ and only shared context agrees" + (
                ": review at most (a shared mobile?)" if flags & MOBILE else ": not linked"
            )
        elif flags & GIVEN_MISSING and not flags & PERSONAL:
            guard = "one side has no given name and only the surname and shared context agree: review at most"
        weight = float(self.weight[i])
        return {
            "match_weight": round(weight, 3),
            "prior_weight": self.prior_weight,
            "probability": 1.0 / (1.0 + 2.0 ** -min(max(weight, -200.0), 200.0)),
            "fields": fields,
            "guard": guard,
        }


def _span(pairs: PairLevels, start: int, stop: int) -> PairLevels:
    """Pairs ``start:stop`` (views)."""
    return PairLevels(
        levels=pairs.levels[:, start:stop],
        tf_codes={k: v[start:stop] for k, v in pairs.tf_codes.items()},
        flags=pairs.flags[start:stop],
    )


def _slice(pairs: PairLevels, i: int) -> PairLevels:
    return PairLevels(
        levels=pairs.levels[:, i : i + 1],
        tf_codes={k: v[i : i + 1] for k, v in pairs.tf_codes.items()},
        flags=pairs.flags[i : i + 1],
    )


assert set(TF_VOCAB) == set(TF_COMPARISONS) and all(v in set(SINGLE.values()) for v in TF_VOCAB.values())
