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

FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.jp", "ymail.com", "hotmail.com",
        "hotmail.co.jp", "outlook.com", "outlook.jp", "live.com", "live.jp", "msn.com", "icloud.com",
        "me.com", "mac.com", "aol.com", "gmx.com", "gmx.de", "proton.me", "protonmail.com",
        "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp", "nifty.com",
        "biglobe.ne.jp", "ocn.ne.jp", "so-net.ne.jp", "mail.example.com",
    }
)
ROLE_LOCAL_PARTS = frozenset(
    {"info", "sales", "support", "contact", "admin", "office", "noreply", "no-reply", "help", "team", "hello", "inquiry", "otoiawase"}
)


@lru_cache(maxsize=65536)
def is_mobile(e164: str) -> bool:
    """Whether an E.164 number is a mobile line (fixed-or-mobile counts where ambiguous)."""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


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
            if num and (p.get("type") == "mobile" or is_mobile(num)):
                keys.append(("phone", num))
    elif entity == "organization":
        for ident in canonical.get("identifiers") or ():
            if isinstance(ident, dict) and ident.get("value"):
                keys.append((f"id:{ident.get('scheme')}"[:16], str(ident["value"])))
        for d in canonical.get("domains") or ():
            dom = str(d).lower().removeprefix("www.")
            if dom and dom not in FREE_MAIL:
                keys.append(("domain", dom))
    return keys


def _fold(name: Any) -> str:
    return unicodedata.normalize("NFKC", str(name or "")).casefold().replace(" ", "")


def names_compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two person records could be one person by name (a missing name is no veto).

    Used to keep a phone number from linking two different people (a shared line)."""
    for fam, kana in (("family_name", "family_name_kana"), ("given_name", "given_name_kana")):
        x, y = _fold(a.get(fam)), _fold(b.get(fam))
        if x and y and x != y:
            xk, yk = _fold(a.get(kana)), _fold(b.get(kana))
            if not (xk and yk and xk == yk):
                return False
    return True
