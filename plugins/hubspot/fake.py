"""A stateful sandbox fake of HubSpot's CRM API v3 (contacts and companies).

It answers the endpoints the HubSpot connector uses, in HubSpot's documented shapes (the published
OpenAPI spec of the contacts API), and keeps HubSpot's rules that catch integration bugs:

* list pages hold at most 100 records, search pages at most 200, batches at most 100 inputs;
* search cannot page past :attr:`FakeHubSpot.search_cap` results (10,000 in HubSpot): asking for
  ``after >= cap`` answers 400;
* a batch is all or nothing: one invalid value fails the whole call with 400 ``VALIDATION_ERROR``
  (``INVALID_EMAIL``, ``PROPERTY_DOESNT_EXIST``, ``INVALID_OPTION``, ``READ_ONLY_VALUE``), and a
  contact email that another contact already has fails it with 409 ``CONFLICT``;
* archived records leave search and the default list, and come back from ``?archived=true``.

Records are stored as HubSpot returns them::

    {"id": "17", "properties": {"email": "...", "lastmodifieddate": "2024-05-01T12:34:56.789Z", ...},
     "createdAt": "...", "updatedAt": "...", "archived": False, "archivedAt": None}

Property values are strings (HubSpot's wire format); a property without a value is absent from
``properties`` and reads back as ``null`` when asked for.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx

from hub.sandbox.fake import FakeVendor, route

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

OBJECTS = r"(?P<obj>contacts|companies)"
MAX_BATCH_INPUTS = 100
MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 200
SEARCH_CAP = 10_000

# The property HubSpot bumps on every change, per object (contacts kept the pre-"hs_" name).
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
# What HubSpot returns when a request names no properties.
DEFAULT_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email"),
    "companies": ("name", "domain"),
}
# Always present in HubSpot's answers, asked for or not.
ALWAYS_RETURNED = {
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
}
SEARCH_DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}
# Properties a free-text ``query`` searches (HubSpot searches "default searchable properties").
QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "mobilephone", "company"),
    "companies": ("name", "domain", "website", "phone"),
}
SINGULAR = {"contacts": "Contact", "companies": "Company"}
OBJECT_TYPE = {"contacts": "CONTACT", "companies": "COMPANY"}

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
RATE_LIMIT_MESSAGE = "You have reached your ten_secondly_rolling limit."

LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
LEAD_STATUSES = (
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)
# HubSpot's fixed industry picklist (internal values; labels derived): strict like the real one.
INDUSTRIES = tuple(
    (code, code.replace("_", " ").title())
    for code in """
    ACCOUNTING AIRLINES_AVIATION ALTERNATIVE_DISPUTE_RESOLUTION ALTERNATIVE_MEDICINE ANIMATION
    APPAREL_FASHION ARCHITECTURE_PLANNING ARTS_AND_CRAFTS AUTOMOTIVE AVIATION_AEROSPACE BANKING BIOTECHNOLOGY
    BROADCAST_MEDIA BUILDING_MATERIALS BUSINESS_SUPPLIES_AND_EQUIPMENT CAPITAL_MARKETS CHEMICALS
    CIVIC_SOCIAL_ORGANIZATION CIVIL_ENGINEERING COMMERCIAL_REAL_ESTATE COMPUTER_NETWORK_SECURITY COMPUTER_GAMES
    COMPUTER_HARDWARE COMPUTER_NETWORKING COMPUTER_SOFTWARE CONSTRUCTION CONSUMER_ELECTRONICS CONSUMER_GOODS
    CONSUMER_SERVICES COSMETICS DAIRY DEFENSE_SPACE DESIGN E_LEARNING EDUCATION_MANAGEMENT
    ELECTRICAL_ELECTRONIC_MANUFACTURING ENTERTAINMENT ENVIRONMENTAL_SERVICES EVENTS_SERVICES EXECUTIVE_OFFICE
    FACILITIES_SERVICES FARMING FINANCIAL_SERVICES FINE_ART FISHERY FOOD_BEVERAGES FOOD_PRODUCTION FUND_RAISING
    FURNITURE GAMBLING_CASINOS GLASS_CERAMICS_CONCRETE GOVERNMENT_ADMINISTRATION GOVERNMENT_RELATIONS
    GRAPHIC_DESIGN HEALTH_WELLNESS_AND_FITNESS HIGHER_EDUCATION HOSPITAL_HEALTH_CARE HOSPITALITY HUMAN_RESOURCES
    IMPORT_AND_EXPORT INDIVIDUAL_FAMILY_SERVICES INDUSTRIAL_AUTOMATION INFORMATION_SERVICES
    INFORMATION_TECHNOLOGY_AND_SERVICES INSURANCE INTERNATIONAL_AFFAIRS INTERNATIONAL_TRADE_AND_DEVELOPMENT
    INTERNET INVESTMENT_BANKING INVESTMENT_MANAGEMENT JUDICIARY LAW_ENFORCEMENT LAW_PRACTICE LEGAL_SERVICES
    LEGISLATIVE_OFFICE LEISURE_TRAVEL_TOURISM LIBRARIES LOGISTICS_AND_SUPPLY_CHAIN LUXURY_GOODS_JEWELRY MACHINERY
    MANAGEMENT_CONSULTING MARITIME MARKET_RESEARCH MARKETING_AND_ADVERTISING MECHANICAL_OR_INDUSTRIAL_ENGINEERING
    MEDIA_PRODUCTION MEDICAL_DEVICES MEDICAL_PRACTICE MENTAL_HEALTH_CARE MILITARY MINING_METALS MOBILE_GAMES
    MOTION_PICTURES_AND_FILM MUSEUMS_AND_INSTITUTIONS MUSIC NANOTECHNOLOGY NEWSPAPERS
    NON_PROFIT_ORGANIZATION_MANAGEMENT OIL_ENERGY ONLINE_MEDIA OUTSOURCING_OFFSHORING PACKAGE_FREIGHT_DELIVERY
    PACKAGING_AND_CONTAINERS PAPER_FOREST_PRODUCTS PERFORMING_ARTS PHARMACEUTICALS PHILANTHROPY PHOTOGRAPHY
    PLASTICS POLITICAL_ORGANIZATION PRIMARY_SECONDARY_EDUCATION PRINTING PROFESSIONAL_TRAINING_COACHING
    PROGRAM_DEVELOPMENT PUBLIC_POLICY PUBLIC_RELATIONS_AND_COMMUNICATIONS PUBLIC_SAFETY PUBLISHING
    RAILROAD_MANUFACTURE RANCHING REAL_ESTATE RECREATIONAL_FACILITIES_AND_SERVICES RELIGIOUS_INSTITUTIONS
    RENEWABLES_ENVIRONMENT RESEARCH RESTAURANTS RETAIL SECURITY_AND_INVESTIGATIONS SEMICONDUCTORS SHIPBUILDING
    SPORTING_GOODS SPORTS STAFFING_AND_RECRUITING SUPERMARKETS TELECOMMUNICATIONS TEXTILES THINK_TANKS TOBACCO
    TRANSLATION_AND_LOCALIZATION TRANSPORTATION_TRUCKING_RAILROAD UTILITIES VENTURE_CAPITAL_PRIVATE_EQUITY
    VETERINARY WAREHOUSING WHOLESALE WINE_AND_SPIRITS WIRELESS WRITING_AND_EDITING
    """.split()
)
BOOLEAN_OPTIONS = (("true", "Yes"), ("false", "No"))


def iso(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, ``Z`` (``2024-05-01T12:34:56.789Z``)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_ms(value: str) -> int | None:
    """Milliseconds since the epoch from an ISO timestamp, a date or an epoch-ms string."""
    value = value.strip()
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def prop(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    group: str,
    custom: bool = False,
    read_only: bool = False,
    unique: bool = False,
    options: Iterable[tuple[str, str]] = (),
    external_options: bool = False,
) -> dict[str, Any]:
    """One property definition in the shape of ``GET /crm/v3/properties/{object}``."""
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": [
            {"label": text, "value": value, "displayOrder": i, "hidden": False}
            for i, (value, text) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": external_options,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": not custom,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "archived": False,
    }


def default_properties() -> dict[str, list[dict[str, Any]]]:
    """The property definitions of a new portal, plus the custom ones the hub relies on."""
    c, co = "contactinformation", "companyinformation"
    contacts = [
        prop("firstname", "First Name", group=c),
        prop("lastname", "Last Name", group=c),
        prop("email", "Email", group=c),
        prop("phone", "Phone Number", field_type="phonenumber", group=c),
        prop("mobilephone", "Mobile Phone Number", field_type="phonenumber", group=c),
        prop("company", "Company Name", group=c),
        prop("jobtitle", "Job Title", group=c),
        prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", group=c, options=LIFECYCLE_STAGES),
        prop("hs_lead_status", "Lead Status", "enumeration", "radio", group="sales_properties", options=LEAD_STATUSES),
        prop("zip", "Postal Code", group=c),
        prop("state", "State/Region", group=c),
        prop("city", "City", group=c),
        prop("address", "Street Address", group=c),
        prop("country", "Country/Region", group=c),
        prop("associatedcompanyid", "Primary Associated Company ID", "number", "number", group=c),
        prop("hubspot_owner_id", "Contact owner", "enumeration", "select", group=c, external_options=True),
        # Read-only in HubSpot: opt-outs go through the communication preferences API.
        prop("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox",
             group="emailinformation", read_only=True, options=BOOLEAN_OPTIONS),
        prop("createdate", "Create Date", "datetime", "date", group=c),
        prop("lastmodifieddate", "Last Modified Date", "datetime", "date", group=c, read_only=True),
        prop("hs_object_id", "Record ID", "number", "number", group=c, read_only=True),
        prop("firstname_kana", "First Name (Kana)", group=c, custom=True),
        prop("lastname_kana", "Last Name (Kana)", group=c, custom=True),
        prop("department", "Department", group=c, custom=True),
        prop("seamless_hub_id", "Seamless Hub ID", group=c, custom=True, unique=True),
    ]
    companies = [
        prop("name", "Company name", group=co),
        prop("domain", "Company Domain Name", group=co),
        prop("phone", "Phone Number", field_type="phonenumber", group=co),
        prop("city", "City", group=co),
        prop("state", "State/Region", group=co),
        prop("zip", "Postal Code", group=co),
        prop("address", "Street Address", group=co),
        prop("country", "Country/Region", group=co),
        prop("industry", "Industry", "enumeration", "select", group=co, options=INDUSTRIES),
        prop("numberofemployees", "Number of Employees", "number", "number", group=co),
        prop("website", "Website URL", group=co),
        prop("createdate", "Create Date", "datetime", "date", group=co),
        prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", group=co, read_only=True),
        prop("hs_object_id", "Record ID", "number", "number", group=co, read_only=True),
        prop("name_kana", "Company Name (Kana)", group=co, custom=True),
        prop("corporate_number", "Corporate Number", group=co, custom=True),
        prop("seamless_hub_id", "Seamless Hub ID", group=co, custom=True, unique=True),
    ]
    return {"contacts": contacts, "companies": companies}


class Rejected(Exception):
    """A request HubSpot would refuse; carries the error response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class FakeHubSpot(FakeVendor):
    """In-memory HubSpot portal serving ``/crm/v3/objects/{contacts|companies}`` and properties.

    Args:
        state_path: JSON file that keeps the portal between processes.
        token: the private-app token requests must carry as ``Authorization: Bearer``.
        rate_limit: ``(requests, seconds)`` to answer 429 like HubSpot's ten-secondly limit
            (off by default).
        search_cap: how many results a search can page through (HubSpot: 10,000); tests lower it.
    """

    name: ClassVar[str] = "hubspot"
    streams: ClassVar[tuple[str, ...]] = ("contacts", "companies")
    base_url: ClassVar[str] = "https://api.hubapi.com"

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        token: str = "sandbox-token",
        rate_limit: tuple[int, float] | None = None,
        search_cap: int = SEARCH_CAP,
    ) -> None:
        super().__init__(state_path=state_path, token=token)
        self.rate_limit = rate_limit
        self.search_cap = search_cap
        self._hits: deque[float] = deque()
        # A state file written before property definitions were stored still loads.
        self.state.setdefault("properties", default_properties())

    # -- FakeVendor hooks ----------------------------------------------------------------
    @override
    def empty_state(self) -> dict[str, Any]:
        return {"next_id": 1, "records": {s: {} for s in self.streams}, "properties": default_properties()}

    def extra_settings(self) -> dict[str, Any]:
        """Connector settings beyond ``base_url`` that talk to this fake (its token)."""
        return {"access_token": self.token}

    @override
    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return self.error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                category="INVALID_AUTHENTICATION",
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.token:
            # Never echo the presented token: HubSpot does not, and logs would keep it.
            return self.error(
                401,
                "Authentication credentials are invalid or expired. Check the private app access token.",
                category="INVALID_AUTHENTICATION",
            )
        return self._throttle()

    @override
    def error(self, status: int, message: str, **extra: Any) -> httpx.Response:
        category = extra.pop("category", None) or {
            400: "VALIDATION_ERROR",
            401: "INVALID_AUTHENTICATION",
            403: "MISSING_SCOPES",
            404: "OBJECT_NOT_FOUND",
            409: "CONFLICT",
        }.get(status, "UNKNOWN")
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
        body.update(extra)
        return self.json(body, status)

    def _throttle(self) -> httpx.Response | None:
        if not self.rate_limit:
            return None
        limit, window = self.rate_limit
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= window:
            self._hits.popleft()
        if len(self._hits) >= limit:
            wait = max(0.001, window - (now - self._hits[0]))
            return self.json(
                {
                    "status": "error",
                    "message": RATE_LIMIT_MESSAGE,
                    "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()),
                    "policyName": "TEN_SECONDLY_ROLLING",
                },
                429,
                headers={
                    "Retry-After": f"{wait:.3f}",
                    "X-HubSpot-RateLimit-Max": str(limit),
                    "X-HubSpot-RateLimit-Remaining": "0",
                    "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
                },
            )
        self._hits.append(now)
        return None

    # -- public data API (seeding, demos, tests) -------------------------------------------
    @override
    def insert(self, stream: str, fields: dict[str, Any], *, at: datetime | None = None) -> str:
        """Create a record as if a user had (read-only properties and odd values allowed).

        Args:
            stream: ``contacts`` or ``companies``.
            fields: property values (HubSpot names); ``createdate`` may be given for history.
            at: the creation time (default: the fake's clock); tests use it to share timestamps.

        Returns:
            The new record's id.
        """
        with self.lock:
            values = self._normalise(stream, fields, user=True)
            record = self._create(stream, values, self._stamp(at))
            self._commit()
            return record["id"]

    @override
    def update(self, stream: str, record_id: str, fields: dict[str, Any], *, at: datetime | None = None) -> None:
        """Change a record as if a user had; bumps its modification timestamps."""
        with self.lock:
            record = self._live(stream, record_id)
            values = self._normalise(stream, fields, user=True)
            self._apply(stream, record, values, self._stamp(at))
            self._commit()

    def archive(self, stream: str, record_id: str, *, at: datetime | None = None) -> None:
        """Archive (soft-delete) a record as if a user had deleted it."""
        with self.lock:
            record = self._live(stream, record_id)
            self._archive(record, self._stamp(at))
            self._commit()

    def record(self, stream: str, record_id: str) -> dict[str, Any] | None:
        """A copy of one stored record (archived ones included), or None."""
        with self.lock:
            found = self.table(stream).get(str(record_id))
            return json.loads(json.dumps(found)) if found else None

    def find(self, stream: str, prop_name: str, value: str) -> dict[str, Any] | None:
        """The live record whose property ``prop_name`` equals ``value`` (a copy), or None."""
        with self.lock:
            found = self._by_value(stream, prop_name, value)
            return json.loads(json.dumps(found)) if found else None

    def add_property(self, stream: str, name: str, label: str, *, unique: bool = False) -> None:
        """Define a custom single-line text property (``hasUniqueValue`` when ``unique``)."""
        with self.lock:
            self.state["properties"][stream].append(
                prop(name, label, group="contactinformation", custom=True, unique=unique)
            )
            self._commit()

    def remove_property(self, stream: str, name: str) -> None:
        """Delete a property definition (to rehearse a portal missing a custom property)."""
        with self.lock:
            self.state["properties"][stream] = [p for p in self.state["properties"][stream] if p["name"] != name]
            self._commit()

    # -- routes: records -------------------------------------------------------------------
    @route("GET", r"/crm/v3/objects/" + OBJECTS)
    def list_records(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        params = request.url.params
        try:
            limit = int(params.get("limit", "10"))
        except ValueError:
            return self.error(400, f"Invalid limit: {params.get('limit')!r}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return self.error(400, f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        archived = params.get("archived", "false").lower() == "true"
        after = params.get("after")
        start = 0
        if after:
            if not after.isdigit():
                return self.error(400, f"Invalid paging cursor: {after!r}")
            start = int(after)
        wanted = self._requested(obj, _list_param(params, "properties"))
        # List pages walk ids in order, so records changing mid-scan never shift the pages.
        rows = sorted(
            (r for r in self.table(obj).values() if r["archived"] == archived and int(r["id"]) >= start),
            key=lambda r: int(r["id"]),
        )
        page = rows[:limit]
        out: dict[str, Any] = {"results": [self._public(obj, r, wanted) for r in page]}
        if len(rows) > limit:
            nxt = str(int(rows[limit]["id"]))
            out["paging"] = {"next": {"after": nxt, "link": f"{self.base_url}{request.url.path}?after={nxt}"}}
        return self.json(out)

    @route("GET", r"/crm/v3/objects/" + OBJECTS + r"/(?P<record_id>[^/]+)")
    def get_record(self, request: httpx.Request, body: Any, obj: str, record_id: str) -> httpx.Response:
        params = request.url.params
        archived = params.get("archived", "false").lower() == "true"
        id_property = params.get("idProperty")
        if id_property:
            record = self._by_value(obj, id_property, record_id, archived=archived)
        else:
            record = self.table(obj).get(record_id)
            if record is not None and record["archived"] != archived:
                record = None
        if record is None:
            return self.error(404, "Object not found.  objectId are usually numeric.", category="OBJECT_NOT_FOUND")
        return self.json(self._public(obj, record, self._requested(obj, _list_param(params, "properties"))))

    @route("POST", r"/crm/v3/objects/" + OBJECTS)
    def create_record(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        try:
            values = self._validated(obj, _properties_of(body))
            self._check_unique(obj, [(None, values)])
        except Rejected as exc:
            return exc.response
        record = self._create(obj, values, self.now())
        self.mutated()
        return self.json(self._public(obj, record, list(values)), 201)

    @route("PATCH", r"/crm/v3/objects/" + OBJECTS + r"/(?P<record_id>[^/]+)")
    def update_record(self, request: httpx.Request, body: Any, obj: str, record_id: str) -> httpx.Response:
        record = self.table(obj).get(record_id)
        if record is None or record["archived"]:
            return self.error(404, "resource not found", category="OBJECT_NOT_FOUND")
        try:
            values = self._validated(obj, _properties_of(body))
            self._check_unique(obj, [(record, values)])
        except Rejected as exc:
            return exc.response
        self._apply(obj, record, values, self.now())
        self.mutated()
        return self.json(self._public(obj, record, list(values)))

    @route("DELETE", r"/crm/v3/objects/" + OBJECTS + r"/(?P<record_id>[^/]+)")
    def delete_record(self, request: httpx.Request, body: Any, obj: str, record_id: str) -> httpx.Response:
        record = self.table(obj).get(record_id)
        if record is not None and not record["archived"]:
            self._archive(record, self.now())
            self.mutated()
        return httpx.Response(204)

    # -- routes: search ----------------------------------------------------------------------
    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/search")
    def search(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        body = body or {}
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 0 <= limit <= MAX_SEARCH_LIMIT:
            return self.error(400, f"limit must be an integer between 0 and {MAX_SEARCH_LIMIT}, got {limit!r}")
        after_raw = body.get("after") or "0"
        try:
            after = int(after_raw)
        except (TypeError, ValueError):
            return self.error(400, f"Invalid paging cursor: {after_raw!r}")
        if after >= self.search_cap:
            # HubSpot: "The search endpoints are limited to 10,000 total results for any given query."
            return self.error(
                400,
                f"Search results are limited to {self.search_cap} results for any given query; "
                f"cannot page to after={after}. Narrow the query.",
            )
        try:
            matches = [r for r in self.table(obj).values() if not r["archived"] and self._matches(obj, r, body)]
            matches.sort(key=self._sort_key(obj, body.get("sorts") or []))
        except Rejected as exc:
            return exc.response
        wanted = self._requested(obj, body.get("properties"), search=True)
        end = min(after + limit, self.search_cap)
        out: dict[str, Any] = {
            "total": len(matches),
            "results": [self._public(obj, r, wanted) for r in matches[after:end]],
        }
        # Like HubSpot, the cursor is offered even when following it would hit the cap.
        if after + limit < len(matches):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return self.json(out)

    def _matches(self, obj: str, record: dict[str, Any], body: dict[str, Any]) -> bool:
        query = (body.get("query") or "").strip().lower()
        if query:
            props = record["properties"]
            if not any(query in (props.get(p) or "").lower() for p in QUERY_PROPERTIES[obj]):
                return False
        groups = body.get("filterGroups") or []
        if not groups:
            return True
        return any(all(self._filter(obj, record, f) for f in g.get("filters") or []) for g in groups)

    def _filter(self, obj: str, record: dict[str, Any], flt: dict[str, Any]) -> bool:
        name = flt.get("propertyName")
        op = flt.get("operator")
        definition = self._definition(obj, name or "")
        if definition is None:
            raise Rejected(self.error(400, f"There was a problem with the request: unknown property {name!r}"))
        raw = record["properties"].get(name)
        if op == "HAS_PROPERTY":
            return raw is not None
        if op == "NOT_HAS_PROPERTY":
            return raw is None
        if op in ("IN", "NOT_IN"):
            values = {str(v).lower() for v in flt.get("values") or []}
            inside = raw is not None and raw.lower() in values
            return inside if op == "IN" else not inside
        value = flt.get("value")
        if value is None:
            raise Rejected(self.error(400, f"filter on {name!r} with operator {op!r} needs a value"))
        left, right = self._comparable(definition, raw), self._comparable(definition, str(value))
        if op == "BETWEEN":
            high = self._comparable(definition, str(flt.get("highValue", "")))
            return left is not None and right is not None and high is not None and right <= left <= high
        if op == "NEQ":
            return left != right
        if op == "EQ":
            return left is not None and left == right
        if left is None or right is None:
            return False
        compare = {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}
        if op not in compare:
            raise Rejected(self.error(400, f"Unsupported filter operator {op!r}"))
        return compare[op]

    @staticmethod
    def _comparable(definition: dict[str, Any], raw: str | None) -> Any:
        if raw is None:
            return None
        if definition["type"] in ("datetime", "date"):
            return epoch_ms(raw)
        if definition["type"] == "number":
            try:
                return float(raw)
            except ValueError:
                return None
        return raw.lower()  # HubSpot string comparisons ignore case

    def _sort_key(self, obj: str, sorts: list[Any]) -> Any:
        if not sorts:
            return lambda r: int(r["id"])
        first = sorts[0]
        if isinstance(first, str):  # the published spec types sorts as strings: "name" / "-name"
            name, descending = first.lstrip("-"), first.startswith("-")
        else:
            name, descending = first.get("propertyName"), first.get("direction") == "DESCENDING"
        definition = self._definition(obj, name or "")
        if definition is None:
            raise Rejected(self.error(400, f"There was a problem with the request: cannot sort by {name!r}"))
        sign = -1 if descending else 1

        def key(record: dict[str, Any]) -> tuple[Any, ...]:
            value = self._comparable(definition, record["properties"].get(name))
            # Records without the value sort last; ties go by id so paging is stable.
            if value is None:
                return (1, 0, int(record["id"]))
            if isinstance(value, str):
                return (0, value, int(record["id"])) if sign > 0 else (0, _Desc(value), int(record["id"]))
            return (0, sign * value, int(record["id"]))

        return key

    # -- routes: batch ---------------------------------------------------------------------
    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/batch/read")
    def batch_read(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body)
        except Rejected as exc:
            return exc.response
        archived = request.url.params.get("archived", "false").lower() == "true"
        id_property = (body or {}).get("idProperty")
        wanted = self._requested(obj, (body or {}).get("properties"))
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id", ""))
            if id_property:
                record = self._by_value(obj, id_property, key, archived=archived)
            else:
                record = self.table(obj).get(key)
                if record is not None and record["archived"] != archived:
                    record = None
            if record is None:
                missing.append(key)
            else:
                results.append(self._public(obj, record, wanted))
        return self._batch_response(results, started, missing, obj)

    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/batch/create")
    def batch_create(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body)
            planned = [(None, self._validated(obj, _properties_of(item))) for item in inputs]
            self._check_unique(obj, planned)
        except Rejected as exc:
            return exc.response
        now = self.now()
        results = [self._public(obj, self._create(obj, values, now), list(values)) for _, values in planned]
        self.mutated()
        return self._batch_response(results, started, [], obj, status=201)

    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/batch/update")
    def batch_update(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body)
            self._no_duplicates(inputs)
            planned, missing = [], []
            for item in inputs:
                key = str(item.get("id", ""))
                id_property = item.get("idProperty")
                if id_property:
                    self._require_unique_property(obj, id_property)
                    record = self._by_value(obj, id_property, key)
                else:
                    record = self.table(obj).get(key)
                    if record is not None and record["archived"]:
                        record = None
                if record is None:
                    missing.append(key)
                    continue
                planned.append((record, self._validated(obj, _properties_of(item))))
            self._check_unique(obj, planned)
        except Rejected as exc:
            return exc.response
        now = self.now()
        results = []
        for record, values in planned:
            self._apply(obj, record, values, now)
            results.append(self._public(obj, record, list(values)))
        if planned:
            self.mutated()
        return self._batch_response(results, started, missing, obj)

    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/batch/upsert")
    def batch_upsert(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body)
            self._no_duplicates(inputs)
            planned: list[tuple[dict[str, Any] | None, dict[str, str]]] = []
            for item in inputs:
                id_property = item.get("idProperty")
                if not id_property:
                    raise Rejected(self.error(400, "idProperty is required to upsert by a unique property value"))
                self._require_unique_property(obj, id_property)
                key = str(item.get("id", ""))
                values = self._validated(obj, {**_properties_of(item), id_property: key})
                planned.append((self._by_value(obj, id_property, values[id_property]), values))
            self._check_unique(obj, planned)
        except Rejected as exc:
            return exc.response
        now = self.now()
        results = []
        for record, values in planned:
            new = record is None
            if record is None:
                record = self._create(obj, values, now)
            else:
                self._apply(obj, record, values, now)
            results.append({**self._public(obj, record, list(values)), "new": new})
        self.mutated()
        return self._batch_response(results, started, [], obj)

    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/batch/archive")
    def batch_archive(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        try:
            inputs = self._inputs(body)
        except Rejected as exc:
            return exc.response
        now = self.now()
        changed = False
        for item in inputs:
            record = self.table(obj).get(str(item.get("id", "")))
            # Archiving an unknown or already archived id is not an error in HubSpot.
            if record is not None and not record["archived"]:
                self._archive(record, now)
                changed = True
        if changed:
            self.mutated()
        return httpx.Response(204)

    # -- routes: properties ----------------------------------------------------------------
    @route("GET", r"/crm/v3/properties/" + OBJECTS)
    def list_properties(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        return self.json({"results": self.state["properties"][obj]})

    @route("GET", r"/crm/v3/properties/" + OBJECTS + r"/(?P<prop_name>[^/]+)")
    def get_property(self, request: httpx.Request, body: Any, obj: str, prop_name: str) -> httpx.Response:
        definition = self._definition(obj, prop_name)
        if definition is None:
            return self.error(404, f"Unable to find property {prop_name}", category="OBJECT_NOT_FOUND")
        return self.json(definition)

    # -- internals ---------------------------------------------------------------------------
    def _commit(self) -> None:
        self.mutated()
        self.save()

    def _stamp(self, at: datetime | None) -> datetime:
        if at is None:
            return self.now()
        if at.tzinfo is None:
            raise ValueError("pass an aware datetime")
        return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)

    def _definition(self, obj: str, name: str) -> dict[str, Any] | None:
        for definition in self.state["properties"][obj]:
            if definition["name"] == name:
                return definition
        return None

    def _live(self, stream: str, record_id: str) -> dict[str, Any]:
        record = self.table(stream).get(str(record_id))
        if record is None or record["archived"]:
            raise KeyError(f"no live {stream} record {record_id!r}")
        return record

    def _by_value(self, obj: str, name: str, value: str, *, archived: bool = False) -> dict[str, Any] | None:
        wanted = value.strip().lower() if name == "email" else value
        for record in self.table(obj).values():
            if record["archived"] == archived and record["properties"].get(name) == wanted:
                return record
        return None

    def _requested(self, obj: str, names: Any, *, search: bool = False) -> list[str]:
        if isinstance(names, str):
            names = [n for n in names.split(",") if n]
        if not names:
            names = SEARCH_DEFAULT_PROPERTIES[obj] if search else DEFAULT_PROPERTIES[obj]
        # Unknown names are ignored, as HubSpot documents.
        return [n for n in dict.fromkeys([*names, *ALWAYS_RETURNED[obj]]) if self._definition(obj, n)]

    def _public(self, obj: str, record: dict[str, Any], wanted: Iterable[str]) -> dict[str, Any]:
        names = dict.fromkeys([*wanted, *ALWAYS_RETURNED[obj]])
        out: dict[str, Any] = {
            "id": record["id"],
            "properties": {n: record["properties"].get(n) for n in names},
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": record["archived"],
        }
        if record["archived"]:
            out["archivedAt"] = record["archivedAt"]
        return out

    def _inputs(self, body: Any) -> list[dict[str, Any]]:
        inputs = (body or {}).get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise Rejected(self.error(400, "Invalid input JSON: 'inputs' must be an array of objects"))
        if len(inputs) > MAX_BATCH_INPUTS:
            raise Rejected(
                self.error(
                    400,
                    f"Batch input size must not exceed {MAX_BATCH_INPUTS}; got {len(inputs)} inputs.",
                    errors=[{"message": f"size must be between 0 and {MAX_BATCH_INPUTS}", "in": "inputs"}],
                )
            )
        return inputs

    def _no_duplicates(self, inputs: list[dict[str, Any]]) -> None:
        seen: set[str] = set()
        dupes = []
        for item in inputs:
            key = str(item.get("id", ""))
            if key in seen:
                dupes.append(key)
            seen.add(key)
        if dupes:
            raise Rejected(self.error(400, f"Duplicate IDs found in batch input: {sorted(set(dupes))}."))

    def _require_unique_property(self, obj: str, name: str) -> None:
        definition = self._definition(obj, name)
        if definition is None:
            problem = _problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            raise Rejected(self._invalid([problem]))
        if not (definition["hasUniqueValue"] or (obj == "contacts" and name == "email")):
            raise Rejected(self.error(400, f"Property {name} is not a unique identifier property for {obj}."))

    def _validated(self, obj: str, fields: dict[str, Any]) -> dict[str, str]:
        try:
            return self._normalise(obj, fields, user=False)
        except _Invalid as exc:
            raise Rejected(self._invalid(exc.problems)) from None

    def _normalise(self, obj: str, fields: dict[str, Any], *, user: bool) -> dict[str, str]:
        """Property values as HubSpot stores them; raises _Invalid (API) or ValueError (seeding).

        ``user`` (the public data API) checks only that the properties exist.
        """
        problems = []
        out: dict[str, str] = {}
        for name, raw in fields.items():
            definition = self._definition(obj, name)
            if definition is None:
                problems.append(_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if definition["modificationMetadata"]["readOnlyValue"] and not user:
                problems.append(
                    _problem(name, "READ_ONLY_VALUE", f"{name} is a read only property; its value cannot be set.")
                )
                continue
            value = _wire(raw)
            if name == "email":
                value = value.strip().lower()  # HubSpot stores emails lower-cased
            if user:
                # Seeding stores what it is given: demos hold the messy values (full-width
                # addresses, ...) that old imports and forms leave behind in real portals.
                out[name] = value
                continue
            if value and name == "email" and not EMAIL_RE.match(value):
                problems.append(_problem(name, "INVALID_EMAIL", f"Email address {value} is invalid"))
                continue
            options = [o["value"] for o in definition["options"]]
            if value and options and not definition["externalOptions"] and value not in options:
                problems.append(
                    _problem(name, "INVALID_OPTION", f"{value} was not one of the allowed options: {options}")
                )
                continue
            out[name] = value
        if problems:
            if user:
                raise ValueError("; ".join(p["message"] for p in problems))
            raise _Invalid(problems)
        return out

    def _invalid(self, problems: list[dict[str, Any]]) -> httpx.Response:
        # HubSpot packs the per-property verdicts into the message as JSON; "errors" carries them
        # in the documented ErrorDetail shape too.
        verdicts = [
            {"isValid": False, "message": p["message"], "error": p["code"], "name": p["name"],
             "localizedErrorMessage": p["message"]}
            for p in problems
        ]
        return self.error(
            400,
            "Property values were not valid: " + json.dumps(verdicts),
            category="VALIDATION_ERROR",
            errors=[{"message": p["message"], "code": p["code"], "context": {"propertyName": [p["name"]]}}
                    for p in problems],
        )

    def _check_unique(self, obj: str, planned: list[tuple[dict[str, Any] | None, dict[str, str]]]) -> None:
        unique = [d["name"] for d in self.state["properties"][obj] if d["hasUniqueValue"]]
        if obj == "contacts":
            unique.append("email")
        claimed: dict[tuple[str, str], int] = {}  # values taken by earlier inputs of this batch
        for index, (record, values) in enumerate(planned):
            own = record["id"] if record else None
            for name in unique:
                value = values.get(name)
                if not value:
                    continue
                holder = self._by_value(obj, name, value)
                if holder is not None and holder["id"] != own:
                    if obj == "contacts" and name == "email":
                        message = f"Contact already exists. Existing ID: {holder['id']}"
                    else:
                        message = (f"A {SINGULAR[obj].lower()} with {name} '{value}' already exists. "
                                   f"Existing ID: {holder['id']}")
                    raise Rejected(self.error(409, message, category="CONFLICT"))
                if claimed.setdefault((name, value), index) != index:
                    raise Rejected(
                        self.error(409, f"Two inputs of this batch set {name} to '{value}'.", category="CONFLICT")
                    )

    def _create(self, obj: str, values: dict[str, str], now: datetime) -> dict[str, Any]:
        record_id = self.new_id()
        stamp = iso(now)
        record: dict[str, Any] = {
            "id": record_id,
            "properties": {"createdate": stamp},
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "archivedAt": None,
        }
        self.table(obj)[record_id] = record
        self._apply(obj, record, values, now)
        record["properties"]["hs_object_id"] = record_id
        if values.get("createdate"):
            record["createdAt"] = values["createdate"]
        return record

    def _apply(self, obj: str, record: dict[str, Any], values: dict[str, str], now: datetime) -> None:
        props = record["properties"]
        for name, value in values.items():
            if value == "":
                props.pop(name, None)  # an empty string clears a HubSpot property
            else:
                props[name] = value
        stamp = iso(now)
        props[MODIFIED_PROPERTY[obj]] = stamp
        record["updatedAt"] = stamp

    def _archive(self, record: dict[str, Any], now: datetime) -> None:
        record["archived"] = True
        record["archivedAt"] = iso(now)
        record["updatedAt"] = iso(now)

    def _batch_response(
        self,
        results: list[dict[str, Any]],
        started: datetime,
        missing: list[str],
        obj: str,
        *,
        status: int = 200,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(started),
            "completedAt": iso(self.now()),
        }
        if not missing:
            return self.json(body, status)
        body["numErrors"] = 1
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {OBJECT_TYPE[obj]} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]
        return self.json(body, 207)


class _Invalid(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems)
        self.problems = problems


class _Desc:
    """Reverses string order inside a sort key."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {"name": name, "code": code, "message": message}


def _wire(value: Any) -> str:
    """A JSON value as HubSpot stores it: a string ("" clears)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _properties_of(item: Any) -> dict[str, Any]:
    props = item.get("properties") if isinstance(item, dict) else None
    return props if isinstance(props, dict) else {}


def _list_param(params: httpx.QueryParams, name: str) -> list[str]:
    """A list query parameter sent either repeated (``a=x&a=y``) or comma-separated."""
    return [v for raw in params.get_list(name) for v in raw.split(",") if v]
