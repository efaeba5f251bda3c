"""Sample records for the conformance kit, written in canonical space.

The kit never hard-codes a vendor's field names: it builds a canonical record per entity and lets
the connector's own mapping file turn it into vendor fields (:meth:`hub.mapping.Mapping.to_vendor`).
So whatever a plugin maps is what the kit writes, reads back and compares.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hub import paths

if TYPE_CHECKING:
    from hub.mapping import Mapping

INVALID_EMAIL = "not-an-email-address"


def canonical_sample(entity: str, n: int) -> dict[str, Any]:
    """A plausible canonical record of ``entity``, distinct for every ``n`` (unique emails, names
    and domains, so vendors that match on them never merge two samples)."""
    if entity == "person":
        return {
            "family_name": "Conformance",
            "given_name": f"Tester{n}",
            "family_name_kana": "コンフォーマンス",
            "given_name_kana": "テスター",
            "emails": [{"address": f"conformance.{n}@example.com"}],
            "phones": [{"type": "work", "number": "+81355501234"}],
            "addresses": [{"postal_code": "100-0001", "region": "東京都", "locality": "千代田区",
                           "street": "千代田1-1", "country": "JP"}],
            "job_title": "Engineer",
            "department": "Quality",
        }
    if entity == "organization":
        return {
            "name": f"Conformance Trading {n}",
            "name_kana": "コンフォーマンストレーディング",
            "domains": [f"conformance{n}.example.com"],
            "website": f"https://conformance{n}.example.com",
            "phones": [{"number": "+81355501234"}],
            "identifiers": [{"scheme": "jp_corporate_number", "value": f"{7000000000000 + n}"}],
        }
    if entity == "deal":
        return {
            "name": f"Conformance deal {n}",
            "stage": {"stage": "proposal"},
            "amount": "120000",  # canonical values are what inbound transforms give: text
            "currency": "JPY",
            "close_date": "2030-01-31",
        }
    if entity == "ticket":
        return {"subject": f"Conformance ticket {n}", "description": "Written by the conformance kit.",
                "status": "open", "priority": "normal"}
    if entity == "activity":
        return {"type": "note", "subject": f"Conformance note {n}", "body": "Written by the conformance kit.",
                "occurred_at": "2024-05-01T12:00:00.000Z"}
    raise ValueError(f"no canonical sample for entity {entity!r}")


def round_trip_paths(mapping: Mapping, stream: str) -> list[str]:
    """Canonical paths the stream maps both ways (without references): what must survive
    canonical -> vendor -> canonical."""
    out: list[str] = []
    for fm in mapping.stream(stream).fields:
        if fm.inbound and fm.outbound and not fm.ref:
            out.extend(c for c in fm.canonical if c not in out)
    return out


def maps_outbound(mapping: Mapping, stream: str, top: str) -> bool:
    """Whether the stream writes canonical field ``top`` (``emails``) to the vendor."""
    return any(
        fm.outbound and any(paths.top(c) == top for c in fm.canonical) for fm in mapping.stream(stream).fields
    )


def as_json(value: Any) -> Any:
    """``value`` with JSON types only, as a user would type it into the vendor's UI (a fake's
    data API stores what it is given, and answers it as JSON)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [as_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value
