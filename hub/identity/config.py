"""Settings of the identity resolver, one frozen value passed everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.identity.normalize import NameOrder

DEFAULT_PRIORITY: tuple[str, ...] = ("ref", "hub", "id", "email", "mobile")
"""Identifier kinds, strongest first: a cross-tool id, the hub's own key written into a tool,
a configured strong identifier (``id:<scheme>``), a personal e-mail, a mobile number."""


@dataclass(frozen=True)
class ResolverConfig:
    """How records are normalised, paired, scored and linked.

    Attributes:
        high: Match probability at or above which two records are linked automatically.
        low: Probability at or above which (and below ``high``) a pair goes to the review
            queue; below it a pair is neither linked nor reviewed.
        default_region: Phone region used when a record names no country.
        strip_plus_tag: Treat ``taro+news@x`` as ``taro@x``.
        name_order: How a full name in one field is split (``auto`` detects CJK, ``YAMADA
            Taro`` and ``Yamada, Taro`` as family first).
        strong_schemes: Schemes in a record's ``identifiers`` that link deterministically
            (everything else is compared probabilistically).
        priority: Identifier kinds in the order the deterministic layer applies them.
        blocklist: Identifier values (e-mails, E.164 numbers, ids) that never link.
        max_identifier_group: More records than this sharing one identifier value make it a
            shared value (a test address, a switchboard), not an identifier.
        max_block: Blocking keys shared by more records than this produce no candidate pairs
            (a switchboard number is no block).
        max_name_block: The same limit for name keys (surname + initial): common names make
            big blocks of strangers, and the other keys find their matches.
        window: Sorted-neighbourhood window on names (pairs at most ``window - 1`` apart).
        em_max_pairs: Candidate pairs sampled per EM session.
        u_sample_pairs: Random pairs sampled to estimate ``u`` (non-match agreement rates).
        seed: Seed of every sample, so a run is reproducible.
        link_partial: Link a record missing its given or family name to the one person its
            other fields point to, when they point to exactly one (see
            :mod:`hub.identity.partial`); off, such pairs stay in review.
    """

    high: float = 0.9
    low: float = 0.5
    default_region: str = "JP"
    strip_plus_tag: bool = True
    name_order: NameOrder = "auto"
    strong_schemes: frozenset[str] = frozenset({"jp_corporate_number", "crm_id"})
    priority: tuple[str, ...] = DEFAULT_PRIORITY
    blocklist: frozenset[str] = field(default_factory=frozenset)
    max_identifier_group: int = 50
    max_block: int = 30
    max_name_block: int = 10
    window: int = 3
    em_max_pairs: int = 400_000
    u_sample_pairs: int = 300_000
    seed: int = 0
    link_partial: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.low <= self.high <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 < low <= high <= 1, got low={self.low} high={self.high}")
        if self.window < 2:
            raise ValueError("window must be at least 2")
