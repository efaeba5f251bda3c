"""Deterministic identity keys: which normalised identifiers link canonical records.

It knows canonical records only — never connectors or the database. Strong keys: normalised
email, E.164 *mobile* number (a landline is often a family's or a company's shared line), the
hub's own key written into a tool, and for organisations the corporate number and web domain
(free-mail domains excluded). The identity-resolution layer builds on these.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

import phonenumbers

from hub.identity.lexicon.mailboxes import FREE_MAIL_DOMAINS as FREE_MAIL
from hub.identity.lexicon.mailboxes import ROLE_LOCAL_PARTS
from hub.transforms import MOBILE, MOBILE_TYPES


def is_mobile(e164: str) -> bool:
    """Whether an E.164 number is a mobile line (fixed-or-mobile counts where ambiguous)."""
    known = MOBILE.get(e164)
    if known is not None:
        return known
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False
    MOBILE[e164] = kind in MOBILE_TYPES
    return MOBILE[e164]


def is_role_address(email: str) -> bool:
    """info@, sales@, noreply@...: a shared mailbox, never an identity on its own."""
    return email.split("@", 1)[0] in ROLE_LOCAL_PARTS


def identity_keys(entity: str, canonical: dict[str, Any]) -> list[tuple[str, str]]:
    """The (kind, value) keys that link records of ``entity`` deterministically."""
    keys: list[tuple[str, str]] = []
    hub_key = canonical.get("id")
    if isinstance(hub_key, str) and hub_key:
        keys.append(("hub", hub_key))
    if entity == "person":
        for e in canonical.get("emails") or ():
            addr = e.get("address") if isinstance(e, dict) else None
            if addr and not is_role_address(addr):
                keys.append(("email", addr))
        for p in canonical.get("phones") or ():
            num = p.get("number") if isinstance(p, dict) else None
            # judged by the number itself, never by the field a tool keeps it in, so both sides
            # of a link always produce the same key
            if num and is_mobile(num):
                keys.append(("phone", num))
    elif entity == "organization":
        for ident in canonical.get("identifiers") or ():
            if isinstance(ident, dict) and ident.get("value"):
                keys.append((f"id:{ident.get('scheme')}"[:16], str(ident["value"])))
        for d in canonical.get("domains") or ():
            dom = str(d).lower().removeprefix("www.")
            if dom and dom not in FREE_MAIL:
                keys.append(("domain", dom))
        if canonical.get("name"):
            # exact name after folding width and case; tools such as Zendesk keep names unique
            keys.append(("name", fold_name(canonical["name"])[:300]))
    return keys


def fold_name(name: Any) -> str:
    """A name compared as written, ignoring width, case and spaces."""
    return _fold(name if type(name) is str else str(name or ""))


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    # names repeat across the records of one person and between people
    return unicodedata.normalize("NFKC", text).casefold().replace(" ", "")
