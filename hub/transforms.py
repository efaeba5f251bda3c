"""Named, reversible value transforms used by mapping files.

Each :class:`Transform` has an ``inbound`` (vendor -> canonical) and an ``outbound``
(canonical -> vendor) function taking ``(value, arg, ctx)``: ``arg`` is what the mapping file
wrote after the transform's name (None when it wrote the bare name). A transform raises
``ValueError`` for a value it cannot accept; the mapping engine turns that into a
:class:`hub.errors.MappingError` naming connector, stream, record and field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jaconv
import phonenumbers

from hub.plugins import hookimpl

Fn = Callable[[Any, Any, "Context"], Any]


@dataclass
class Context:
    """What transforms may need beyond the value."""

    default_region: str = "JP"
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Transform:
    """A named pair of functions: ``inbound`` (vendor -> canonical), ``outbound`` (back)."""

    name: str
    inbound: Fn
    outbound: Fn
    multi: bool = False  # True when one vendor value maps to several canonical fields


def identity(value: Any, arg: Any, ctx: Context) -> Any:
    """The direction of a transform that keeps the value as it is (the mapping engine skips it)."""
    return value



def nfkc(value: Any) -> Any:
    """NFKC-normalise a string (full-width ASCII -> half-width, half-width kana -> full)."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    # nfkc(str(value)) without the calls: it runs for most fields of every record
    text = unicodedata.normalize("NFKC", value if type(value) is str else str(value)).strip()
    return text or None


# -- email -------------------------------------------------------------------------------
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=65536)
def normalize_email(value: str) -> str:
    """Trim, NFKC and lower-case an address; ValueError when it is not an address."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if not _EMAIL.match(text):
        raise ValueError(f"{value!r} is not an email address")
    return text


def _email_in(value: Any, arg: Any, ctx: Context) -> Any:
    text = _text(value)
    return normalize_email(text) if text else None


# -- phone -------------------------------------------------------------------------------
MOBILE: dict[str, bool] = {}  # E.164 -> is a mobile line, filled as numbers are parsed
MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


_E164: list[dict[tuple[str, str], str]] = [{}, {}]  # (raw text, region) -> E.164: young, old
_E164_GENERATION = 50_000


def to_e164(value: str, region: str) -> str:
    """Parse a phone number in any common writing to E.164; extensions are dropped.

    Parsing costs tens of microseconds and the hub meets each number several times: an E.164
    number parsed before (the hub's own value read back, or mapped again on the way out) is
    known by :data:`MOBILE`, and other writings are kept by raw text in two bounded
    generations (a full young one becomes the old one; a hit in the old one is brought back).
    """
    if value[:1] == "+" and value[1:].isdigit() and value in MOBILE:
        return value
    key = (value, region)
    young, old = _E164
    found = young.get(key)
    if found is None:
        found = old.get(key)
        if found is None:
            found = _parse_e164(value, region)
        if len(young) >= _E164_GENERATION:
            _E164[:] = [young, old] = [{}, young]
        young[key] = found
    return found


def _parse_e164(value: str, region: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    text = text.replace("ー", "-").replace("−", "-").replace("‐", "-")
    try:
        parsed = phonenumbers.parse(text, region, keep_raw_input=True)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number ({exc})") from None
    if parsed.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY and not _domestic(text, region):
        parsed = _foreign(text) or parsed
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{value!r} is not a possible phone number for region {region}")
    parsed.extension = None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 not in MOBILE:  # the type is known now: spare the linker a second parse
        if len(MOBILE) > 200_000:
            MOBILE.clear()
        MOBILE[e164] = phonenumbers.number_type(parsed) in MOBILE_TYPES
    return e164


FOREIGN_REGIONS = ("US",)
"""Where a number written without a country code, and not the way the default region writes
its own numbers, is tried next: North American numbers are the usual guests in CRM data."""


def _domestic(text: str, region: str) -> bool:
    """Whether digits given without a country code are written as ``region`` writes its own.

    In countries whose numbers are dialled with a trunk prefix of 0 (Japan, most of Europe) a
    domestic number always starts with it: 303-555-9225 in a Japanese workspace is not Japanese.
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.national_prefix != "0":
        return True
    return next((c for c in text if c.isdigit()), "0") == "0"


def _foreign(text: str) -> phonenumbers.PhoneNumber | None:
    for alt in FOREIGN_REGIONS:
        try:
            parsed = phonenumbers.parse(text, alt, keep_raw_input=True)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return parsed
    return None


def _phone_in(value: Any, arg: Any, ctx: Context) -> Any:
    text = _text(value)
    if not text:
        return None
    region = (arg or {}).get("region") if isinstance(arg, dict) else arg
    return to_e164(text, region or ctx.default_region)


def _phone_out(value: Any, arg: Any, ctx: Context) -> Any:
    fmt = (arg or {}).get("format") if isinstance(arg, dict) else None
    if not value or fmt not in ("national", "international"):
        return value
    parsed = phonenumbers.parse(value, None)
    kind = phonenumbers.PhoneNumberFormat.NATIONAL if fmt == "national" else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, kind)


# -- text, kana, names -------------------------------------------------------------------
def _nfkc_in(value: Any, arg: Any, ctx: Context) -> Any:
    return _text(value)


def to_katakana(value: str) -> str:
    """A reading as full-width katakana (from hiragana, half-width kana, mixed spaces)."""
    text = unicodedata.normalize("NFKC", value).strip()
    return jaconv.hira2kata(text)


# readings repeat (family names, common given names) and jaconv walks every character
_katakana = lru_cache(maxsize=65536)(to_katakana)


def _kana_in(value: Any, arg: Any, ctx: Context) -> Any:
    text = _text(value)
    return _katakana(text) if text else None


def _kana_out(value: Any, arg: Any, ctx: Context) -> Any:
    if value and arg == "hiragana":
        return jaconv.kata2hira(value)
    if value and arg == "halfwidth":
        return jaconv.z2h(value, kana=True, ascii=False, digit=False)
    return value


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def is_cjk(text: str) -> bool:
    """Whether ``text`` holds Japanese/Chinese script (names then run family-first)."""
    return bool(_CJK.search(text))


def _order(arg: Any, sample: str) -> str:
    order = (arg or {}).get("order", "auto") if isinstance(arg, dict) else (arg or "auto")
    if order == "auto":
        return "family_first" if is_cjk(sample) else "given_first"
    if order not in ("family_first", "given_first"):
        raise ValueError(f"name order must be auto, family_first or given_first, not {order!r}")
    return order


def split_name(value: str, arg: Any = None) -> tuple[str | None, str | None]:
    """Split a full name into (family, given) in the configured or detected order."""
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        return None, None
    parts = text.split(" ", 1)
    order = _order(arg, text)
    if len(parts) == 1:
        # 山田太郎 cannot be split reliably without a dictionary: keep it whole as the family name.
        return (parts[0], None) if order == "family_first" else (None, parts[0])
    if order == "family_first":
        return parts[0], parts[1]
    given, family = text.rsplit(" ", 1)  # the given part may hold a middle name
    return family, given


def _name_in(value: Any, arg: Any, ctx: Context) -> Any:
    text = _text(value)
    return split_name(text, arg) if text else (None, None)


def join_name(family: str | None, given: str | None, arg: Any = None) -> str | None:
    """Join (family, given) into one display name in the right order for the script."""
    parts = [p for p in (family, given) if p]
    if not parts:
        return None
    order = _order(arg, "".join(parts))
    if order == "given_first":
        return " ".join(p for p in (given, family) if p)
    return " ".join(p for p in (family, given) if p)


def _name_out(value: Any, arg: Any, ctx: Context) -> Any:
    family, given = value if isinstance(value, (tuple, list)) else (value, None)
    return join_name(family, given, arg)


# -- picklists ---------------------------------------------------------------------------
def _value_map(arg: Any, ctx: Context) -> dict[str, Any]:
    if isinstance(arg, dict):
        return arg
    try:
        return ctx.value_maps[arg]
    except KeyError:
        raise ValueError(f"value map {arg!r} is not defined in the mapping file") from None


def _map_in(value: Any, arg: Any, ctx: Context) -> Any:
    if value is None or value == "":
        return None
    table = _value_map(arg, ctx)
    key = str(value)
    if key in table:
        return table[key]
    if "_default" in table:
        return table["_default"]
    raise ValueError(f"{value!r} is not in value map {arg!r} (known: {', '.join(k for k in table if k != '_default')})")


def _map_out(value: Any, arg: Any, ctx: Context) -> Any:
    if value is None:
        return None
    for vendor, canonical in _value_map(arg, ctx).items():
        if canonical == value and vendor != "_default":
            return vendor
    return None


# -- dates -------------------------------------------------------------------------------
def to_utc(value: Any, tz: str | None = None) -> datetime | None:
    """Parse ISO 8601 strings or epoch milliseconds into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        dt = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    else:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz) if tz else UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """UTC ISO 8601 with millisecond precision and a Z."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _datetime_in(value: Any, arg: Any, ctx: Context) -> Any:
    tz = arg.get("tz") if isinstance(arg, dict) else None
    dt = to_utc(value, tz)
    return iso(dt) if dt else None


def _date_in(value: Any, arg: Any, ctx: Context) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return to_utc(value).date().isoformat()  # type: ignore[union-attr]
    return date.fromisoformat(str(value).strip()[:10]).isoformat()


# -- scalars -----------------------------------------------------------------------------
def _strip(value: Any, arg: Any, ctx: Context) -> Any:
    return value.strip() or None if isinstance(value, str) else value


def _lower(value: Any, arg: Any, ctx: Context) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any, arg: Any, ctx: Context) -> Any:
    return value.upper() if isinstance(value, str) else value


def _split_in(value: Any, arg: Any, ctx: Context) -> Any:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    return [p.strip() for p in str(value).split(arg or ";") if p.strip()]


def _split_out(value: Any, arg: Any, ctx: Context) -> Any:
    return (arg or ";").join(value) if isinstance(value, list) else value


_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f", ""}


def to_bool(value: Any) -> bool | None:
    """Read the many ways vendors write a boolean."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _bool_in(value: Any, arg: Any, ctx: Context) -> Any:
    return to_bool(value)


def _bool_out(value: Any, arg: Any, ctx: Context) -> Any:
    if value is None:
        return None
    return ("true" if value else "false") if arg == "string" else value


def _number(kind: type) -> Fn:
    def inbound(value: Any, arg: Any, ctx: Context) -> Any:
        if value in (None, ""):
            return None
        try:
            text = nfkc(str(value)).replace(",", "").strip()
            number = Decimal(text)
            if kind is Decimal:  # one spelling per value: 120000, 120000.0 and 1.2E+5 are one amount
                return format(number.normalize(), "f")
            return kind(number)
        except (InvalidOperation, ValueError):
            raise ValueError(f"{value!r} is not a number") from None

    return inbound


def _consent_in(value: Any, arg: Any, ctx: Context) -> Any:
    flag = to_bool(value)
    if flag is None:
        return None
    inverted = bool(arg.get("inverted")) if isinstance(arg, dict) else False
    if inverted:  # an "opted out" flag: false only means "not opted out"
        return "opted_out" if flag else "not_set"
    return "opted_in" if flag else "not_set"


def _consent_out(value: Any, arg: Any, ctx: Context) -> Any:
    if value is None:
        return None
    inverted = bool(arg.get("inverted")) if isinstance(arg, dict) else False
    flag = value == "opted_out" if inverted else value == "opted_in"
    return "true" if flag else "false"


BUILTINS: tuple[Transform, ...] = (
    Transform("email", _email_in, identity),
    Transform("phone", _phone_in, _phone_out),
    Transform("nfkc", _nfkc_in, identity),
    Transform("kana", _kana_in, _kana_out),
    Transform("name", _name_in, _name_out, multi=True),
    Transform("value_map", _map_in, _map_out),
    Transform("datetime", _datetime_in, identity),
    Transform("date", _date_in, identity),
    Transform("strip", _strip, identity),
    Transform("lower", _lower, identity),
    Transform("upper", _upper, identity),
    Transform("split", _split_in, _split_out),
    Transform("bool", _bool_in, _bool_out),
    Transform("int", _number(int), identity),
    Transform("float", _number(float), identity),
    Transform("decimal", _number(Decimal), identity),
    Transform("consent", _consent_in, _consent_out),
)

NONE_TO_NONE: frozenset[Fn] = frozenset(
    t.inbound for t in BUILTINS if t.name not in ("name", "split")
)
"""Inbound functions that return None for None, whatever their argument: a mapping skips an
empty vendor field before calling a chain made only of these (``split`` reads None as [],
``name`` as (None, None))."""


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """The built-in transforms, registered like any plugin's."""
    for transform in BUILTINS:
        register(transform)
