"""Deterministic identity keys: which normalised identifiers link canonical records.

It knows canonical records only — never connectors or the database. Strong keys: normalised
email, E.164 *mobile* number (a landline is often a family's or a company's shared line), the
hub's own key written into a tool, and for organisations the corporate number and web domain
(free-mail domains excluded). The identity-resolution layer builds on these.
"""

from __future__ import annotations

import unicodedata
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
            keys.append(("name", _fold(canonical["name"])[:300]))
    return keys


def _fold(name: Any) -> str:
    return unicodedata.normalize("NFKC", str(name or "")).casefold().replace(" ", "")


def names_compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two person records could be one person by name (a missing name is no veto).

    Used to keep a phone number from linking two different people (a shared line). Family and
    given names may be swapped or crammed into one field; equal readings (kana) also agree.
    """
    fa, ga, fb, gb = (_fold(x.get(k)) for x in (a, b) for k in ("family_name", "given_name"))
    if not (fa or ga) or not (fb or gb):
        return True
    if {fa + ga, ga + fa} & {fb + gb, gb + fb}:
        return True
    ka = _fold(a.get("family_name_kana")) + _fold(a.get("given_name_kana"))
    kb = _fold(b.get("family_name_kana")) + _fold(b.get("given_name_kana"))
    if ka and ka == kb and bool(ga) == bool(gb):
        return True
    # one side knows only one part of the name: it must match a part of the other side
    if not (fa and ga) or not (fb and gb):
        return bool({fa, ga} - {""} & {fb, gb} - {""})
    return False
