"""Normalisation for matching: pure, cached functions from raw values to comparable keys.

These keys are for *comparing* records, never for display or write-back: variant kanji are
folded, legal forms stripped, long vowels in romaji collapsed. Canonical values (the ones the
golden record shows) come from :mod:`hub.transforms`, which this module reuses for e-mail
syntax and E.164 parsing.

Every public function takes a string (or None), returns a string, a small frozen value or None,
and is memoised: customer data repeats the same names, domains and towns over and over.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import jaconv
import phonenumbers

from hub.identity.lexicon.given_names import GIVEN_NAMES
from hub.identity.lexicon.honorifics import JA_SUFFIXES, LATIN_TITLES
from hub.identity.lexicon.kanji import VARIANTS
from hub.identity.lexicon.legal_forms import JA_FORMS, LATIN_FORMS
from hub.identity.lexicon.mailboxes import FREE_MAIL_DOMAINS, PLACEHOLDER_EMAILS, ROLE_LOCAL_PARTS
from hub.identity.lexicon.nicknames import NICKNAMES
from hub.identity.lexicon.placeholders import PLACEHOLDER_NAMES, PLACEHOLDER_TEXTS
from hub.identity.lexicon.prefectures import PREFECTURES
from hub.transforms import normalize_email as _canonical_email
from hub.transforms import MOBILE, MOBILE_TYPES, to_e164

NameOrder = Literal["auto", "family_first", "given_first"]

_CACHE = 1 << 16


def nfkc(text: str) -> str:
    """NFKC with surrounding white space removed (full-width ASCII and half-width kana fixed)."""
    return unicodedata.normalize("NFKC", text).strip()


# -- e-mail --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EmailInfo:
    """A normalised address and what it says about its owner."""

    address: str
    local: str
    domain: str
    role: bool
    """A team mailbox (info@, sales@…): never an identity on its own."""
    free: bool
    """A consumer provider's domain (gmail.com…): says nothing about the employer."""
    placeholder: bool
    """A value typed to get past a required field (test@test.com)."""


@lru_cache(maxsize=_CACHE)
def parse_email(value: str, strip_plus_tag: bool = True) -> EmailInfo | None:
    """Normalise an address for matching; None when it is not an address.

    Case and surrounding spaces are dropped (:func:`hub.transforms.normalize_email`), then a
    ``+tag`` in the local part when ``strip_plus_tag`` is set (``taro+news@x`` is taro@x).
    """
    try:
        address = _canonical_email(value)
    except ValueError:
        return None
    local, _, domain = address.rpartition("@")
    if strip_plus_tag and "+" in local:
        local = local.split("+", 1)[0] or local
        address = f"{local}@{domain}"
    return EmailInfo(
        address=address,
        local=local,
        domain=domain,
        role=is_role_local_part(local),
        free=domain in FREE_MAIL_DOMAINS,
        placeholder=address in PLACEHOLDER_EMAILS or _is_placeholder_local(local),
    )


def normalize_email(value: str, strip_plus_tag: bool = True) -> str | None:
    """The matching form of an address, or None when ``value`` is not one."""
    info = parse_email(value, strip_plus_tag)
    return info.address if info else None


_LOCAL_SPLIT = re.compile(r"[.\-_+]")


@lru_cache(maxsize=4096)
def is_role_local_part(local: str) -> bool:
    """Whether a local part names a function: ``info``, ``sales.jp``, ``support-team``."""
    local = local.lower().split("+", 1)[0]
    if local in ROLE_LOCAL_PARTS:
        return True
    head = _LOCAL_SPLIT.split(local, 1)[0]
    return head in ROLE_LOCAL_PARTS and head not in ("mail", "all", "it", "pr", "cs", "ir")


def is_role_address(address: str) -> bool:
    """info@, sales@, noreply@…: a shared mailbox, never an identity on its own."""
    return is_role_local_part(address.rpartition("@")[0])


def _is_placeholder_local(local: str) -> bool:
    return local in {"test", "none", "dummy", "noemail", "nomail", "na", "n/a", "unknown"} or (
        len(set(local)) == 1 and len(local) >= 3
    )


_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([^/:?#]+)")


@lru_cache(maxsize=_CACHE)
def org_domain(value: str) -> str | None:
    """The organisation domain in an address, URL or bare domain; None for free-mail ones."""
    text = nfkc(value).lower()
    if "@" in text and "/" not in text:
        text = text.rpartition("@")[2]
    match = _URL.match(text)
    if not match:
        return None
    domain = match.group(1).strip(".").removeprefix("www.")
    if "." not in domain or domain in FREE_MAIL_DOMAINS:
        return None
    return domain


# -- phone ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PhoneInfo:
    """A number in E.164 and what kind of line it is."""

    e164: str
    mobile: bool
    """Mobile (or fixed-or-mobile where the plan cannot tell): usually one person's."""
    placeholder: bool
    """000…, 1234…, 090-0000-0000: typed to get past a required field."""


_EXTENSION = re.compile(r"\s*(?:内線|ﾅｲｾﾝ|ext\.?|extension|x\s*(?=\d)|#)", re.IGNORECASE)
_ASCENDING = "01234567890123456789"
_DESCENDING = "98765432109876543210"


@lru_cache(maxsize=_CACHE)
def parse_phone(value: str, region: str = "JP") -> PhoneInfo | None:
    """Parse a number in any common writing (full-width digits, extensions) to E.164.

    ``region`` is the record's country, else the configured default; None when the value is
    not a possible number there.
    """
    value = _EXTENSION.split(value, 1)[0]
    try:
        e164 = to_e164(value, region or "JP")
    except ValueError:
        return None
    mobile = MOBILE.get(e164)  # to_e164 learnt the line type as it parsed: no second parse
    national = _national(e164) if mobile is not None else None
    if mobile is None or national is None:
        parsed = phonenumbers.parse(e164, None)
        national = str(parsed.national_number)
        mobile = phonenumbers.number_type(parsed) in MOBILE_TYPES
    return PhoneInfo(e164=e164, mobile=mobile, placeholder=_is_placeholder_number(national))


def _national(e164: str) -> str | None:
    """The national number of an E.164 string as phonenumbers reads it (the country code is
    the first one to three digits that name one; leading zeros go, as in its integer)."""
    digits = e164[1:]
    for size in (1, 2, 3):
        if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            rest = digits[size:]
            return str(int(rest)) if rest.isdigit() else None
    return None


def _is_placeholder_number(national: str) -> bool:
    subscriber = national[-8:] if len(national) >= 10 else national[-6:]
    if len(set(subscriber)) == 1:
        return True
    runs = (national[i : i + 8] for i in range(len(national) - 7))
    return any(run in _ASCENDING or run in _DESCENDING for run in runs)


def is_placeholder_phone(value: str, region: str = "JP") -> bool:
    """Whether a number is one of the fakes forms are filled with (000…, 1234…)."""
    info = parse_phone(value, region)
    return info is None or info.placeholder


# -- names ---------------------------------------------------------------------------------
_VARIANT_TABLE = str.maketrans(VARIANTS)
_SPACES = re.compile(r"\s+")
_NAME_PUNCT = re.compile(r"[\s.,'’`´\-‐‑‒–—―・･·_/()\"“”]+")
_LATIN_SUFFIX = re.compile(r"[-\s](?:san|sama|kun|chan|sensei|dono|shi)$")
_KATAKANA = re.compile(r"^[\u30a0-\u30ffー]+$")
_HAS_LATIN = re.compile(r"[a-z]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def fold_variants(text: str) -> str:
    """Fold variant kanji (髙→高, 﨑→崎, 齋→斎, 邊→辺…) for matching."""
    return text.translate(_VARIANT_TABLE)


def fold_kana(text: str) -> str:
    """Hiragana and half-width katakana as full-width katakana (NFKC does the widths)."""
    return jaconv.hira2kata(unicodedata.normalize("NFKC", text))


def _strip_diacritics(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    # only Latin combining marks: NFD also splits ガ into カ + U+3099, which must survive
    kept = "".join(c for c in decomposed if not "\u0300" <= c <= "\u036f")
    return unicodedata.normalize("NFC", kept)


@lru_cache(maxsize=_CACHE)
def strip_honorifics(text: str) -> str:
    """Drop honorifics and titles: 山田様, 田中さん, Mr. Smith, Dr Jones, Yamada-san."""
    if text.isascii() and text.isalpha():
        # the common case, a bare Latin name part: a title alone is all it could hold
        return text if text.lower() not in LATIN_TITLES else ""
    text = _SPACES.sub(" ", nfkc(text))
    changed = True
    while changed and text:
        changed = False
        for suffix in JA_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)].rstrip()
                changed = True
    if _HAS_LATIN.search(text.lower()):
        text = _LATIN_SUFFIX.sub("", text.lower()) if _LATIN_SUFFIX.search(text.lower()) else text
        words = text.replace(",", " , ").split()
        kept = [w for w in words if w.lower().rstrip(".") not in LATIN_TITLES]
        if kept and any(w != "," for w in kept):
            text = " ".join(kept).replace(" , ", ", ").strip(" ,")
    return text


@lru_cache(maxsize=_CACHE)
def name_key(text: str) -> str:
    """The matching key of a name or name part (empty when nothing is left).

    NFKC, honorifics dropped, variant kanji folded, hiragana and half-width kana as katakana,
    case and Latin diacritics dropped, spaces and punctuation removed.
    """
    text = strip_honorifics(text)
    if text.isascii():
        return _NAME_PUNCT.sub("", text.lower())
    text = fold_variants(fold_kana(text))
    return _NAME_PUNCT.sub("", _strip_diacritics(text.casefold()))


@lru_cache(maxsize=1)
def _placeholder_keys() -> frozenset[str]:
    # folded like the keys they meet (ご担当者様 -> ゴ担当者), once, on first use
    return frozenset(k for k in map(name_key, PLACEHOLDER_NAMES) if k)


def is_placeholder_name(key: str, text: str = "") -> bool:
    """Whether a name key (from :func:`name_key`) is a filler such as "unknown" or "不明";
    ``text``, the name as typed, catches fillers whose key is a name ("N/A" gives "na")."""
    return key in _placeholder_keys() or (bool(text) and nfkc(text).strip().lower() in PLACEHOLDER_TEXTS)


def nickname_pairs() -> list[tuple[str, str]]:
    """(name key, nickname key) of every English nickname in the lexicon (Robert, Bob)."""
    out = {(name_key(canon), name_key(nick)) for canon, nicks in NICKNAMES.items() for nick in nicks}
    return sorted((a, b) for a, b in out if a and b and a != b)


def known_given_names() -> list[str]:
    """Name keys of the English given names the lexicon knows (with every nickname's name)."""
    names = {name_key(n) for n in GIVEN_NAMES} | {n for pair in nickname_pairs() for n in pair}
    return sorted(names - {""})


@lru_cache(maxsize=_CACHE)
def kana_reading(text: str) -> str | None:
    """The name as katakana when it is written in kana only (a reading), else None."""
    key = name_key(text)
    return key if key and not key.isascii() and _KATAKANA.match(key) else None


# Romaji: Hepburn, Kunrei and the passport spellings (Satoh, Ohno) meet in one loose key.
_ROMAJI = re.compile(
    r"^(?:(?:[kgsztdnhbpmrjfwvc]h?y?|ts|y)?[aiueo]h?|n'?|m(?=[bmp])|[tc](?=ch)|([kgstdpbcfjmrzh])(?=\1))+$"
)
_LOOSEN = (
    (re.compile(r"xtsu([b-df-hj-np-tv-z])"), r"\1\1"),
    (re.compile(r"[tc]ch"), "tty"),
    (re.compile(r"sh"), "sy"),
    (re.compile(r"ch"), "ty"),
    (re.compile(r"ts"), "t"),
    (re.compile(r"j"), "zy"),
    (re.compile(r"dz"), "z"),
    (re.compile(r"fu"), "hu"),
    (re.compile(r"di"), "zi"),
    (re.compile(r"du"), "zu"),
    (re.compile(r"wo"), "o"),
    (re.compile(r"([stz])yi"), r"\1i"),
    (re.compile(r"m(?=[bmp])"), "n"),
    (re.compile(r"o[uoh](?![aiueoy])"), "o"),
    (re.compile(r"ou"), "o"),
    (re.compile(r"([aiueo])\1"), r"\1"),
    (re.compile(r"[^a-z]"), ""),
)


def _loosen(romaji: str) -> str:
    for pattern, repl in _LOOSEN:
        romaji = pattern.sub(repl, romaji)
    return romaji


@lru_cache(maxsize=_CACHE)
def romaji_key(text: str) -> str | None:
    """A loose romaji key: ``サトウ``, ``さとう``, ``Satou``, ``Satoh`` and ``Satō`` all give one.

    Kana is romanised (jaconv), a Latin name is kept when it can be read as romaji; anything
    else (kanji, "Smith") gives None. Long vowels, Hepburn/Kunrei spellings and m/n before
    b, m, p are folded so that a reading typed either way meets the other.
    """
    key = name_key(text)
    if not key:
        return None
    if key.isascii():
        return _loosen(key) if key.isalpha() and _ROMAJI.match(key) else None
    if _KATAKANA.match(key):
        return _loosen(jaconv.kata2alphabet(key.replace("ー", ""))) or None
    if key.isascii() and key.isalpha() and _ROMAJI.match(key.replace("'", "")):
        return _loosen(key) or None
    return None


def is_cjk(text: str) -> bool:
    """Whether ``text`` is written in Japanese/Chinese script (names then run family first)."""
    return bool(_CJK.search(text))


@lru_cache(maxsize=_CACHE)
def detect_name_order(text: str) -> Literal["family_first", "given_first"]:
    """Guess the order of a full name: CJK, ``YAMADA Taro`` and ``Yamada, Taro`` are family first."""
    text = strip_honorifics(text)
    if is_cjk(text) or "," in text:
        return "family_first"
    words = text.split()
    if len(words) >= 2 and words[0].isupper() and len(words[0]) > 1 and not words[-1].isupper():
        return "family_first"
    return "given_first"


@lru_cache(maxsize=_CACHE)
def split_person_name(text: str, order: NameOrder = "auto") -> tuple[str | None, str | None]:
    """Split a full name into (family, given), honorifics dropped, in the detected or given order.

    A CJK name without a space (山田太郎) cannot be split without a dictionary: it is returned
    whole as the family name, and matching compares the joined name as well.
    """
    text = strip_honorifics(text)
    if not text:
        return None, None
    if order == "auto":
        order = detect_name_order(text)
    if "," in text:
        family, _, given = text.partition(",")
        return family.strip() or None, given.strip() or None
    words = text.split()
    if len(words) == 1:
        return (words[0], None) if order == "family_first" else (None, words[0])
    if order == "family_first":
        return words[0], " ".join(words[1:])
    return words[-1], " ".join(words[:-1])


# -- organisations -------------------------------------------------------------------------
_JA_FORMS = tuple(sorted((nfkc(f) for f in JA_FORMS), key=len, reverse=True))
_LATIN_FORM_WORDS = tuple(sorted((f.split() for f in LATIN_FORMS), key=len, reverse=True))
_ORG_PUNCT = re.compile(r"[\s.,'’`&\-‐‑‒–—―・･·_/()\"“”!:;]+")


@lru_cache(maxsize=_CACHE)
def org_key(name: str) -> str | None:
    """An organisation name without its legal form, for matching: ㈱サンプル = Sample Co., Ltd.?

    Only the spelling is folded (NFKC, kana, case, variants, legal-form words); translating
    between scripts is out of scope, so ``サンプル`` and ``Sample`` stay different keys.
    """
    text = nfkc(name).casefold()
    for form in _JA_FORMS:
        text = text.replace(form.casefold(), " ")
    words = [w for w in re.split(r"[\s,]+", text.replace(".,", ", ")) if w]
    words = [w.rstrip(".") for w in words]
    while len(words) > 1:
        for form in _LATIN_FORM_WORDS:
            if len(words) > len(form) and [w.rstrip(".") for w in words[-len(form) :]] == form:
                words = words[: -len(form)]
                break
        else:
            break
    if len(words) > 2 and words[:2] == ["kabushiki", "kaisha"]:
        words = words[2:]
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    key = _ORG_PUNCT.sub("", fold_variants(fold_kana(" ".join(words))))
    return _strip_diacritics(key) or None


# -- addresses -----------------------------------------------------------------------------
@lru_cache(maxsize=_CACHE)
def postal_code(value: str, country: str | None = None) -> str | None:
    """A postal code as compact upper-case text; Japanese ones as their 7 digits (〒100-0001)."""
    text = nfkc(value).upper().replace("〒", "")
    compact = re.sub(r"[\s\-‐‑–—ー−]", "", text)
    if not compact:
        return None
    if (country or "JP").upper() == "JP" and compact.isdigit() and len(compact) != 7:
        # a Japanese code must have 7 digits; other lengths are foreign or typos: keep as typed
        return compact
    return compact


def _pref_key(text: str) -> str:
    return _loosen(re.sub(r"[^a-z]", "", _strip_diacritics(text.casefold())))


_PREF_KANJI: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [(full, full) for full, _ in PREFECTURES]
        + [(full[:-1], full) for full, _ in PREFECTURES if full != "北海道"],
        key=lambda p: len(p[0]),
        reverse=True,
    )
)
_PREF_LATIN = {_pref_key(roma): full for full, roma in PREFECTURES}
_PREF_LATIN_SUFFIX = re.compile(r"[\s\-]*(?:prefecture|pref|ken|to|fu|do)\.?$")


@lru_cache(maxsize=_CACHE)
def detect_prefecture(text: str) -> str | None:
    """The prefecture (official kanji name) a region or address string starts with, if any.

    Accepts 東京都, 東京, Tokyo, Tōkyō-to, "Osaka Prefecture" and full addresses such as
    ``神奈川県横浜市…``; 京都 is 京都府 but 東京都 is never mistaken for it.
    """
    text = nfkc(text)
    if not text:
        return None
    if not is_cjk(text[:1]):
        head = _PREF_LATIN_SUFFIX.sub("", text.casefold().split(",")[0].strip())
        return _PREF_LATIN.get(_pref_key(head)) if len(head) <= 20 else None
    for prefix, full in _PREF_KANJI:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            # 京都市 is in 京都府; but 京都 must not match the start of an unrelated word
            return full if prefix == full or not rest or rest[0] in "市府都県道 " or is_cjk(rest[:1]) else None
    return None


_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_NUMBER = re.compile(r"[〇零一二三四五六七八九十百]+(?=丁目|番地|番|号|の|-|$)")
_HYPHENS = re.compile(r"(?<=\d)\s*[‐‑‒–—―−ー－\-の]\s*(?=\d)")
_UNITS = re.compile(r"\s*(丁目|番地の?|番|号)\s*")


def _kanji_number(match: re.Match[str]) -> str:
    text, total, current = match.group(0), 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + _KANJI_DIGITS[ch]
    return str(total + current)


@lru_cache(maxsize=_CACHE)
def fold_street(text: str) -> str:
    """A street line in one form: 1丁目2番地3号, 一丁目2-3 and １－２－３ all become ``1-2-3``."""
    if text.isascii():
        text = text.strip()
    else:
        text = nfkc(text)
        text = _KANJI_NUMBER.sub(_kanji_number, text)
        text = _UNITS.sub("-", text)
    text = _HYPHENS.sub("-", text)
    text = re.sub(r"-{2,}", "-", text).strip("- ")
    return _SPACES.sub(" ", _strip_diacritics(text.casefold()))


_NUMBERS = re.compile(r"\d+(?:-\d+)*")
_DIGITS = re.compile(r"\d+")
_NOT_LETTER = re.compile(r"[^a-z]+")


@lru_cache(maxsize=_CACHE)
def split_street(text: str) -> tuple[str, str]:
    """(name part, number part) of a folded street: ``本町1-2-3`` → (``本町``, ``1-2-3``)."""
    if text.isascii():
        low = text.lower()
        return _NOT_LETTER.sub("", low), "-".join(_DIGITS.findall(low))
    folded = fold_street(text)
    numbers = "-".join(_NUMBERS.findall(folded))
    name = _NAME_PUNCT.sub("", _NUMBERS.sub(" ", folded))
    return name, numbers
