"""A stateful sandbox fake of HubSpot's CRM API v3 (contacts, companies and notes).

It answers the endpoints the HubSpot connector uses, in HubSpot's documented shapes (the published
OpenAPI spec of the contacts API), and keeps HubSpot's rules that catch integration bugs:

* list pages hold at most 100 records, search pages at most 200, batches at most 100 inputs;
* search cannot page past :attr:`FakeHubSpot.search_cap` results (10,000 in HubSpot): asking for
  ``after >= cap`` answers 400;
* a batch is all or nothing: one invalid value fails the whole call with 400 ``VALIDATION_ERROR``
  (``INVALID_EMAIL``, ``PROPERTY_DOESNT_EXIST``, ``INVALID_OPTION``, ``READ_ONLY_VALUE``), and a
  contact email that another contact already has fails it with 409 ``CONFLICT``;
* archived records leave search and the default list, and come back from ``?archived=true``;
* a note needs ``hs_timestamp`` to be created (400 ``VALIDATION_ERROR`` naming it otherwise), and
  can be associated with contacts (type 202) when created, or through the v4 associations API.

Records are stored as HubSpot returns them::

    {"id": "17", "properties": {"email": "...", "lastmodifieddate": "2024-05-01T12:34:56.789Z", ...},
     "createdAt": "...", "updatedAt": "...", "archived": False, "archivedAt": None}

Property values are strings (HubSpot's wire format); a property without a value is absent from
``properties`` and reads back as ``null`` when asked for. A note's associated contacts are kept on
the note as ``"associations": {"contacts": ["12", ...]}`` (in the order they were made); list and
get answer them with ``?associations=contacts`` only, search never does (as in HubSpot).

It serves a million records: derived indexes, rebuilt on load and never saved, keep every request
from scanning the portal -- live and archived ids in order (a list page bisects to ``after``),
live records by (modification time, id) (the incremental-read searches bisect to their range and
count ``total`` from positions; other searches still scan), and property value -> ids (upsert by
``idProperty``, unique checks, :meth:`FakeHubSpot.find`). Data-API writes in a burst are saved
at most once a second (see :meth:`FakeHubSpot._commit`); HTTP writes are saved before answering.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

import httpx

from hub.sandbox.fake import FakeVendor, route
from schemas.canonical import ActivityType

from hub.connector import override

OBJECTS = r"(?P<obj>contacts|companies|notes)"
MAX_BATCH_INPUTS = 100
MAX_ASSOCIATION_READ_INPUTS = 1000  # v4 associations batch/read (HubSpot's limit since 2025-02)
MAX_ASSOCIATION_WRITE_INPUTS = 100  # v4 associations batch/create and batch/archive in this fake
MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
# Search index keys pack (modification epoch ms, id) into one int: ms * _ID_SPAN + id.
_ID_SPAN = 1 << 40

# The property HubSpot bumps on every change, per object (contacts kept the pre-"hs_" name).
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate",
                     "notes": "hs_lastmodifieddate"}
# The creation-time property (activities use the "hs_" name).
CREATED_PROPERTY = {"contacts": "createdate", "companies": "createdate", "notes": "hs_createdate"}
# What HubSpot returns when a request names no properties.
DEFAULT_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email"),
    "companies": ("name", "domain"),
    "notes": (),
}
# Always present in HubSpot's answers, asked for or not.
ALWAYS_RETURNED = {
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
SEARCH_DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
# Properties a free-text ``query`` searches (HubSpot searches "default searchable properties").
QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "mobilephone", "company"),
    "companies": ("name", "domain", "website", "phone"),
    "notes": ("hs_note_body",),
}
# Properties HubSpot refuses to create a record without ("Some required properties were not set").
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {"notes": ("hs_timestamp",)}
SINGULAR = {"contacts": "Contact", "companies": "Company", "notes": "Note"}
OBJECT_TYPE = {"contacts": "CONTACT", "companies": "COMPANY", "notes": "NOTE"}
# The associations this fake keeps: from object -> to object -> HUBSPOT_DEFINED type id, and the
# type name v3 answers carry. Note -> contact is type 202 (HubSpot's default association types).
ASSOCIATION_TYPES = {"notes": {"contacts": 202}}
ASSOCIATION_NAMES = {("notes", "contacts"): "note_to_contact"}

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
# The options of the custom property that carries the hub's activity type on notes: the canonical
# activity types, so whatever the hub writes is an allowed option.
ACTIVITY_TYPES = tuple((t.value, t.value.replace("_", " ").capitalize()) for t in ActivityType)


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
    n = "note"
    notes = [
        prop("hs_note_body", "Note body", field_type="html", group=n),
        # Required to create a note: where it sits on the record timeline (ISO 8601 or epoch ms).
        prop("hs_timestamp", "Activity date", "datetime", "date", group=n),
        prop("hubspot_owner_id", "Activity assigned to", "enumeration", "select", group=n, external_options=True),
        prop("hs_attachment_ids", "Attachment IDs", "enumeration", "checkbox", group=n, external_options=True),
        prop("hs_createdate", "Create date", "datetime", "date", group=n, read_only=True),
        prop("hs_lastmodifieddate", "Last modified date", "datetime", "date", group=n, read_only=True),
        prop("hs_object_id", "Record ID", "number", "number", group=n, read_only=True),
        prop("seamless_hub_id", "Seamless Hub ID", group=n, custom=True, unique=True),
        prop("seamless_activity_type", "Seamless activity type", "enumeration", "select", group=n, custom=True,
             options=ACTIVITY_TYPES),
    ]
    return {"contacts": contacts, "companies": companies, "notes": notes}


class Rejected(Exception):
    """A request HubSpot would refuse; carries the error response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class FakeHubSpot(FakeVendor):
    """In-memory HubSpot portal serving ``/crm/v3/objects/{contacts|companies|notes}``, properties
    and the v4 associations of notes with contacts.

    Args:
        state_path: JSON file that keeps the portal between processes.
        token: the private-app token requests must carry as ``Authorization: Bearer``.
        rate_limit: ``(requests, seconds)`` to answer 429 like HubSpot's ten-secondly limit
            (off by default).
        search_cap: how many results a search can page through (HubSpot: 10,000); tests lower it.
    """

    name: ClassVar[str] = "hubspot"
    streams: ClassVar[tuple[str, ...]] = ("contacts", "companies", "notes")
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
        self._stamp_memo: tuple[datetime | None, str, int | None] = (None, "", None)
        self._ms_memo: tuple[Any, int | None] = (None, None)
        # A state file written before property definitions (or an object) were stored still loads.
        defaults = default_properties()
        stored = self.state.setdefault("properties", {})
        for obj in self.streams:
            stored.setdefault(obj, defaults[obj])
        self._rebuild_indexes()

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
    def insert(
        self,
        stream: str,
        fields: dict[str, Any],
        *,
        at: datetime | None = None,
        contacts: Iterable[str] = (),
    ) -> str:
        """Create a record as if a user had (read-only properties and odd values allowed).

        Args:
            stream: ``contacts``, ``companies`` or ``notes``.
            fields: property values (HubSpot names); ``createdate`` may be given for history. A
                note without ``hs_timestamp`` gets its creation time, as HubSpot's UI gives it.
            at: the creation time (default: the fake's clock); tests use it to share timestamps.
            contacts: for a note, the ids of the contacts to associate it with.

        Returns:
            The new record's id.
        """
        with self.lock:
            values = self._normalise(stream, fields, user=True)
            moment = self._stamp(at)
            if stream == "notes" and not values.get("hs_timestamp"):
                values["hs_timestamp"] = self._stamps(moment)[0]  # memoised: _create stamps it too
            try:
                targets = [self._association_target(stream, "contacts", str(c)) for c in contacts]
            except Rejected as exc:
                raise ValueError(exc.response.json()["message"]) from None
            record = self._create(stream, values, moment)
            for target in targets:
                _associate(record, "contacts", target)
            self._commit()
            return str(record["id"])

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
            self._archive(stream, record, self._stamp(at))
            self._commit()

    def associate(self, note_id: str, contact_id: str) -> None:
        """Associate a note with a contact as if a user had (type 202; the note's modification
        time does not move, as in HubSpot)."""
        with self.lock:
            record = self._live("notes", note_id)
            try:
                target = self._association_target("notes", "contacts", str(contact_id))
            except Rejected as exc:
                raise ValueError(exc.response.json()["message"]) from None
            _associate(record, "contacts", target)
            self._commit()

    def associations(self, note_id: str) -> list[str]:
        """The ids of the live contacts a note is associated with, oldest association first."""
        with self.lock:
            record = self.table("notes").get(str(note_id))
            return self._associated(record, "contacts") if record else []

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
        linked = _list_param(params, "associations")
        # List pages walk ids in order, so records changing mid-scan never shift the pages. The
        # ordered id index finds `after` by bisection: a page costs O(log n + limit), not O(n).
        ids = (self._archived_ids if archived else self._live_ids)[obj]
        rows = list(islice(ids.iter_from(start), limit + 1))
        table = self.table(obj)
        out: dict[str, Any] = {
            "results": self._public_many(obj, [table[str(i)] for i in rows[:limit]], wanted, associations=linked)
        }
        if len(rows) > limit:
            nxt = str(rows[limit])
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
        wanted = self._requested(obj, _list_param(params, "properties"))
        return self.json(self._public(obj, record, wanted, associations=_list_param(params, "associations")))

    @route("POST", r"/crm/v3/objects/" + OBJECTS)
    def create_record(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        try:
            values = self._validated(obj, _properties_of(body))
            self._require_on_create(obj, values)
            targets = self._association_inputs(obj, body)
            self._check_unique(obj, [(None, values)])
        except Rejected as exc:
            return exc.response
        record = self._create(obj, values, self.now())
        for to_obj, to_id in targets:
            _associate(record, to_obj, to_id)
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
            self._archive(obj, record, self.now())
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
        end = min(after + limit, self.search_cap)
        indexed = self._indexed_search(obj, body, after, end)
        if indexed is not None:
            total, page = indexed
        else:
            # Anything the modification index cannot answer: scan and sort (O(n log n)).
            try:
                matches = [r for r in self.table(obj).values() if not r["archived"] and self._matches(obj, r, body)]
                matches.sort(key=self._sort_key(obj, body.get("sorts") or []))
            except Rejected as exc:
                return exc.response
            total, page = len(matches), matches[after:end]
        wanted = self._requested(obj, body.get("properties"), search=True)
        out: dict[str, Any] = {"total": total, "results": self._public_many(obj, page, wanted)}
        # Like HubSpot, the cursor is offered even when following it would hit the cap.
        if after + limit < total:
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

    def _indexed_search(
        self, obj: str, body: dict[str, Any], after: int, end: int
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """Answer a search from the modification index, or None when it cannot.

        The index answers the searches incremental reads make: no free-text query, at most one
        filter group whose filters all bound the modification property (``GT``, ``GTE``,
        ``EQ``, ``LT``, ``LTE``, ``BETWEEN``), sorted by that property or by id. It bisects to
        the range, counts ``total`` from positions and walks only ``after + limit`` entries --
        the same answer as the scan, without touching every record.
        """
        mod = MODIFIED_PROPERTY[obj]
        definition = self._definition(obj, mod)
        if (after < 0 or body.get("query") or self._unindexed[obj] or definition is None
                or definition["type"] not in ("datetime", "date")):
            return None
        groups = body.get("filterGroups") or []
        low = high = None
        if groups:
            if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
                return None
            filters = groups[0].get("filters") or []
            if not isinstance(filters, list):
                return None
            for flt in filters:
                if not isinstance(flt, dict) or flt.get("propertyName") != mod or flt.get("value") is None:
                    return None
                op = flt.get("operator")
                bound = epoch_ms(str(flt["value"]))
                if bound is None or op not in ("GT", "GTE", "EQ", "BETWEEN", "LT", "LTE"):
                    return None
                if op in ("GT", "GTE", "EQ", "BETWEEN"):
                    floor = bound + 1 if op == "GT" else bound
                    low = floor if low is None else max(low, floor)
                if op in ("LT", "LTE", "EQ", "BETWEEN"):
                    if op == "BETWEEN":
                        ceiling = epoch_ms(str(flt.get("highValue", "")))
                        if ceiling is None:
                            return None
                    else:
                        ceiling = bound - 1 if op == "LT" else bound
                    high = ceiling if high is None else min(high, ceiling)
        sorts = body.get("sorts") or []
        if not sorts:
            order = "id"
        else:
            if not isinstance(sorts, list):
                return None
            first = sorts[0]
            if isinstance(first, str):
                name, descending = first.lstrip("-"), first.startswith("-")
            elif isinstance(first, dict):
                name, descending = first.get("propertyName"), first.get("direction") == "DESCENDING"
            else:
                return None
            if name != mod:
                return None
            order = "desc" if descending else "asc"

        index = self._by_modified[obj]
        first_key = None if low is None else low * _ID_SPAN
        stop_key = None if high is None else (high + 1) * _ID_SPAN  # exclusive
        if low is not None and high is not None and low > high:
            total = 0
        else:
            total = (len(index) if stop_key is None else index.rank(stop_key)) - (
                0 if first_key is None else index.rank(first_key)
            )
        count = min(end, total) - after
        if count <= 0:
            return total, []
        if order == "asc":
            ids = [key % _ID_SPAN for key in islice(index.iter_from(first_key, skip=after), count)]
        elif order == "desc":
            ids = list(islice(_newest_first(islice(index.iter_below(stop_key), total)), after, after + count))
        elif low is None and high is None:
            ids = list(islice(self._live_ids[obj].iter_from(None, skip=after), count))
        else:
            ids = sorted(key % _ID_SPAN for key in islice(index.iter_from(first_key), total))[after:after + count]
        table = self.table(obj)
        return total, [table[str(i)] for i in ids]

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
            planned: list[tuple[dict[str, Any] | None, dict[str, str]]] = []
            links = []
            for item in inputs:
                values = self._validated(obj, _properties_of(item))
                self._require_on_create(obj, values)
                planned.append((None, values))
                links.append(self._association_inputs(obj, item))
            self._check_unique(obj, planned)
        except Rejected as exc:
            return exc.response
        now = self.now()
        results = []
        for (_, values), targets in zip(planned, links, strict=True):
            record = self._create(obj, values, now)
            for to_obj, to_id in targets:
                _associate(record, to_obj, to_id)
            results.append(self._public(obj, record, list(values)))
        self.mutated()
        return self._batch_response(results, started, [], obj, status=201)

    @route("POST", r"/crm/v3/objects/" + OBJECTS + r"/batch/update")
    def batch_update(self, request: httpx.Request, body: Any, obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body)
            _no_associations(inputs, "SimplePublicObjectBatchInput")
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
            _no_associations(inputs, "SimplePublicObjectBatchInputUpsert")
            self._no_duplicates(inputs)
            planned: list[tuple[dict[str, Any] | None, dict[str, str]]] = []
            for item in inputs:
                id_property = item.get("idProperty")
                if not id_property:
                    raise Rejected(self.error(400, "idProperty is required to upsert by a unique property value"))
                self._require_unique_property(obj, id_property)
                key = str(item.get("id", ""))
                values = self._validated(obj, {**_properties_of(item), id_property: key})
                record = self._by_value(obj, id_property, values[id_property])
                if record is None:
                    self._require_on_create(obj, values)
                planned.append((record, values))
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
                self._archive(obj, record, now)
                changed = True
        if changed:
            self.mutated()
        return httpx.Response(204)

    # -- routes: associations (v4) -----------------------------------------------------------
    @route("POST", r"/crm/v4/associations/(?P<obj>notes)/(?P<to_obj>contacts)/batch/read")
    def read_associations(self, request: httpx.Request, body: Any, obj: str, to_obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body, limit=MAX_ASSOCIATION_READ_INPUTS)
        except Rejected as exc:
            return exc.response
        type_id = ASSOCIATION_TYPES[obj][to_obj]
        results, lonely = [], []
        for item in inputs:
            key = str(item.get("id", ""))
            record = self.table(obj).get(key)
            linked = self._associated(record, to_obj) if record is not None and not record["archived"] else []
            if not linked:
                lonely.append(key)
                continue
            results.append({
                "from": {"id": key},
                "to": [{"toObjectId": int(t), "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]} for t in linked],
            })
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": iso(started),
                               "completedAt": iso(self.now())}
        if not lonely:
            return self.json(out)
        # HubSpot answers a multi-status, one error per object without associations of that type.
        out["numErrors"] = len(lonely)
        out["errors"] = [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
             "context": {"fromObjectId": [key]}, "links": {},
             "message": f"No {to_obj} is associated with {SINGULAR[obj].lower()} {key}."}
            for key in lonely
        ]
        return self.json(out, 207)

    @route("POST", r"/crm/v4/associations/(?P<obj>notes)/(?P<to_obj>contacts)/batch/create")
    def create_associations(self, request: httpx.Request, body: Any, obj: str, to_obj: str) -> httpx.Response:
        started = self.now()
        try:
            inputs = self._inputs(body, limit=MAX_ASSOCIATION_WRITE_INPUTS)
            planned = []
            for item in inputs:
                source = _object_id(item.get("from"))
                record = self.table(obj).get(source)
                if record is None or record["archived"]:
                    raise Rejected(self.error(400, f"{SINGULAR[obj]} {source} does not exist.",
                                              category="VALIDATION_ERROR"))
                self._check_types(obj, to_obj, item.get("types"))
                planned.append((record, self._association_target(obj, to_obj, _object_id(item.get("to")))))
        except Rejected as exc:
            return exc.response
        results = []
        for record, target in planned:
            _associate(record, to_obj, target)  # associating a pair again changes nothing
            results.append({"fromObjectTypeId": "0-46", "fromObjectId": int(record["id"]),
                            "toObjectTypeId": "0-1", "toObjectId": int(target), "labels": []})
        if planned:
            self.mutated()
        return self.json({"status": "COMPLETE", "results": results, "startedAt": iso(started),
                          "completedAt": iso(self.now())}, 201)

    @route("POST", r"/crm/v4/associations/(?P<obj>notes)/(?P<to_obj>contacts)/batch/archive")
    def archive_associations(self, request: httpx.Request, body: Any, obj: str, to_obj: str) -> httpx.Response:
        try:
            inputs = self._inputs(body, limit=MAX_ASSOCIATION_WRITE_INPUTS)
        except Rejected as exc:
            return exc.response
        changed = False
        for item in inputs:
            record = self.table(obj).get(_object_id(item.get("from")))
            targets = item.get("to")
            if record is None or not isinstance(targets, list):
                continue
            linked = (record.get("associations") or {}).get(to_obj) or []
            gone = {_object_id(t) for t in targets}
            kept = [t for t in linked if t not in gone]
            if len(kept) != len(linked):
                record["associations"][to_obj] = kept
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
        """Persist a data-API change (see :meth:`FakeVendor.save_soon`)."""
        self.save_soon()

    def _stamp(self, at: datetime | None) -> datetime:
        if at is None:
            return self.now()
        if at.tzinfo is None:
            raise ValueError("pass an aware datetime")
        return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)

    def _stamps(self, moment: datetime) -> tuple[str, int | None]:
        """``moment`` as a stored stamp (:func:`iso`) and as search compares it (:func:`epoch_ms`
        of that stamp); the last answer is remembered, as records written in a burst share it."""
        last, text, ms = self._stamp_memo
        if last is None or last != moment:
            text = iso(moment)
            ms = epoch_ms(text)
            self._stamp_memo = (moment, text, ms)
        return text, ms

    def _epoch(self, stamp: Any) -> int | None:
        """:func:`epoch_ms` of a stored modification stamp (exactly what search compares)."""
        last, ms = self._ms_memo
        if stamp != last or last is None:
            ms = epoch_ms(stamp) if isinstance(stamp, str) else None
            self._ms_memo = (stamp, ms)
        return ms

    def _definitions(self, obj: str) -> dict[str, dict[str, Any]]:
        """Property definitions by name, rebuilt when the definition list changes."""
        defs = self.state["properties"][obj]
        cached = self._defs.get(obj)
        if cached is None or cached[0] is not defs or cached[1] != len(defs):
            by_name: dict[str, dict[str, Any]] = {}
            for definition in defs:
                by_name.setdefault(definition["name"], definition)  # the first one wins
            cached = (defs, len(defs), by_name, {})
            self._defs[obj] = cached
        return cached[2]

    def _definition(self, obj: str, name: str) -> dict[str, Any] | None:
        return self._definitions(obj).get(name)

    def _options(self, obj: str, definition: dict[str, Any]) -> tuple[list[str], frozenset[str]]:
        """A definition's option values, as a list (for messages) and a set (for checks)."""
        self._definitions(obj)
        memo = self._defs[obj][3]
        key = id(definition)
        found = memo.get(key)
        if found is None or found[0] is not definition:
            values = [o["value"] for o in definition["options"]]
            found = (definition, values, frozenset(values))
            memo[key] = found
        return found[1], found[2]

    def _live(self, stream: str, record_id: str) -> dict[str, Any]:
        record = self.table(stream).get(str(record_id))
        if record is None or record["archived"]:
            raise KeyError(f"no live {stream} record {record_id!r}")
        return record

    def _by_value(self, obj: str, name: str, value: str, *, archived: bool = False) -> dict[str, Any] | None:
        """The lowest-id record whose property ``name`` is ``value`` (a dict lookup)."""
        wanted = value.strip().lower() if name == "email" else value
        try:
            entry = self._value_index(obj, name).get(wanted)
        except TypeError:  # an unhashable value matches no stored string
            return None
        if entry is None:
            return None
        table = self.table(obj)
        for record_id in (entry,) if isinstance(entry, str) else entry:
            record = table[record_id]
            if record["archived"] == archived:
                return record
        return None

    # -- indexes (derived from the state, rebuilt on load, never saved) ---------------------
    def _rebuild_indexes(self) -> None:
        self._defs: dict[str, tuple[Any, int, dict[str, dict[str, Any]], dict[int, Any]]] = {}
        # Live and archived ids in id order: list pages bisect them.
        self._live_ids: dict[str, _SortedInts] = {}
        self._archived_ids: dict[str, _SortedInts] = {}
        # Live records by (modification epoch ms, id), packed in one int: search bisects it.
        self._by_modified: dict[str, _SortedInts] = {}
        # Live ids whose modification stamp does not parse (only a hand-edited state has any):
        # while there are some, search falls back to scanning.
        self._unindexed: dict[str, set[int]] = {}
        # property -> value -> id, or ids in id order when several records share the value.
        self._values: dict[str, dict[str, dict[str, str | list[str]]]] = {}
        for obj in self.streams:
            table = self.state["records"].setdefault(obj, {})
            ids = [int(k) for k in table]
            if any(a >= b for a, b in zip(ids, islice(ids, 1, None))):
                # Records are kept in id order (the order records() promises).
                ids.sort()
                table = self.state["records"][obj] = {str(i): table[str(i)] for i in ids}
            live, archived, keys, unindexed = [], [], [], set()
            mod = MODIFIED_PROPERTY[obj]
            for record_id, record in zip(ids, table.values()):
                if record.get("archived"):
                    archived.append(record_id)
                    continue
                live.append(record_id)
                ms = self._epoch(record["properties"].get(mod))
                if ms is None:
                    unindexed.add(record_id)
                else:
                    keys.append(ms * _ID_SPAN + record_id)
            self._live_ids[obj] = _SortedInts(live)
            self._archived_ids[obj] = _SortedInts(archived)
            self._by_modified[obj] = _SortedInts(keys)
            self._unindexed[obj] = unindexed
            self._values[obj] = {}
            unique = [d["name"] for d in self.state["properties"][obj] if d.get("hasUniqueValue")]
            for name in ["email", *unique] if obj == "contacts" else unique:
                self._value_index(obj, name)

    def _value_index(self, obj: str, name: str) -> dict[str, str | list[str]]:
        """The value index of one property, built on first use and kept in sync by writes."""
        index = self._values[obj].get(name)
        if index is None:
            index = {}
            for record_id, record in self.table(obj).items():
                value = record["properties"].get(name)
                if value is not None:
                    try:
                        found = index.setdefault(value, record_id)
                    except TypeError:  # not a string: no lookup can match it
                        continue
                    if found is not record_id:
                        _index_put(index, value, record_id)
            self._values[obj][name] = index
        return index

    def _unindex_modified(self, obj: str, record_id: int, stamp: Any) -> None:
        ms = self._epoch(stamp)
        if ms is None:
            self._unindexed[obj].discard(record_id)
        else:
            self._by_modified[obj].discard(ms * _ID_SPAN + record_id)

    def _requested(self, obj: str, names: Any, *, search: bool = False) -> list[str]:
        if isinstance(names, str):
            names = [n for n in names.split(",") if n]
        if not names:
            names = SEARCH_DEFAULT_PROPERTIES[obj] if search else DEFAULT_PROPERTIES[obj]
        # Unknown names are ignored, as HubSpot documents.
        known = self._definitions(obj)
        return [n for n in dict.fromkeys([*names, *ALWAYS_RETURNED[obj]]) if known.get(n)]

    def _public(
        self, obj: str, record: dict[str, Any], wanted: Iterable[str], *, associations: Iterable[str] = ()
    ) -> dict[str, Any]:
        return self._public_many(obj, [record], wanted, associations=associations)[0]

    def _public_many(
        self,
        obj: str,
        records: list[dict[str, Any]],
        wanted: Iterable[str],
        *,
        associations: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Records as HubSpot answers them, with the properties ``wanted`` (plus the ones it
        always returns) and the ``associations`` asked for; the names are worked out once per
        page, not per record."""
        names = tuple(dict.fromkeys([*wanted, *ALWAYS_RETURNED[obj]]))
        # Only the association kinds this fake keeps can have results; others answer none.
        linked = [a for a in dict.fromkeys(associations) if a in ASSOCIATION_TYPES.get(obj, {})]
        out = []
        for record in records:
            public: dict[str, Any] = {
                "id": record["id"],
                "properties": dict(zip(names, map(record["properties"].get, names))),
                "createdAt": record["createdAt"],
                "updatedAt": record["updatedAt"],
                "archived": record["archived"],
            }
            if record["archived"]:
                public["archivedAt"] = record["archivedAt"]
            found = {}
            for to_obj in linked:
                ids = self._associated(record, to_obj)
                if ids:  # HubSpot leaves out the kinds a record has no association of
                    kind = ASSOCIATION_NAMES[(obj, to_obj)]
                    found[to_obj] = {"results": [{"id": i, "type": kind} for i in ids]}
            if found:
                public["associations"] = found
            out.append(public)
        return out

    # -- associations ------------------------------------------------------------------------
    def _associated(self, record: dict[str, Any] | None, to_obj: str) -> list[str]:
        """The live records of ``to_obj`` that ``record`` is associated with (an archived
        contact's associations are not answered, as in HubSpot)."""
        ids = ((record or {}).get("associations") or {}).get(to_obj) or []
        table = self.table(to_obj)
        return [i for i in ids if (t := table.get(i)) is not None and not t["archived"]]

    def _association_target(self, obj: str, to_obj: str, to_id: str) -> str:
        """``to_id`` when ``obj`` records can be associated with that live ``to_obj`` record."""
        if to_obj not in ASSOCIATION_TYPES.get(obj, {}):
            raise Rejected(self.error(400, f"this sandbox keeps no associations from {obj} to {to_obj}"))
        target = self.table(to_obj).get(to_id)
        if target is None or target["archived"]:
            raise Rejected(self.error(
                400, f"{SINGULAR[to_obj]} {to_id or '(no id)'} does not exist; it cannot be associated.",
                category="VALIDATION_ERROR"))
        return to_id

    def _check_types(self, obj: str, to_obj: str, types: Any) -> None:
        expected = ASSOCIATION_TYPES[obj][to_obj]
        if not isinstance(types, list) or not types:
            raise Rejected(self.error(400, "Invalid input JSON: an association needs 'types'"))
        for kind in types:
            if not isinstance(kind, dict) or kind.get("associationCategory") != "HUBSPOT_DEFINED" \
                    or kind.get("associationTypeId") != expected:
                raise Rejected(self.error(
                    400, f"{kind!r} is not a valid association type from {obj} to {to_obj} "
                    f"(HUBSPOT_DEFINED {expected})", category="VALIDATION_ERROR"))

    def _association_inputs(self, obj: str, item: Any) -> list[tuple[str, str]]:
        """The ``associations`` of a create input, checked: ``[(to object, to id)]``."""
        given = item.get("associations") if isinstance(item, dict) else None
        if not given:
            return []
        kinds = ASSOCIATION_TYPES.get(obj)
        if not kinds:
            raise Rejected(self.error(400, f"this sandbox keeps no associations from {obj}"))
        if not isinstance(given, list):
            raise Rejected(self.error(400, "Invalid input JSON: 'associations' must be an array"))
        by_type = {type_id: to_obj for to_obj, type_id in kinds.items()}
        out = []
        for assoc in given:
            types = assoc.get("types") if isinstance(assoc, dict) else None
            first = types[0] if isinstance(types, list) and types and isinstance(types[0], dict) else {}
            to_obj = by_type.get(first.get("associationTypeId"))
            if to_obj is None:
                raise Rejected(self.error(
                    400, f"association types {types!r} are not ones this sandbox keeps from {obj} "
                    f"({', '.join(f'{t} to {o}' for o, t in kinds.items())})", category="VALIDATION_ERROR"))
            self._check_types(obj, to_obj, types)
            out.append((to_obj, self._association_target(obj, to_obj, _object_id(assoc.get("to")))))
        return out

    def _require_on_create(self, obj: str, values: dict[str, str]) -> None:
        missing = [name for name in REQUIRED_ON_CREATE.get(obj, ()) if not values.get(name)]
        if missing:
            raise Rejected(self.error(
                400, f"Error creating {OBJECT_TYPE[obj]}. Some required properties were not set.",
                category="VALIDATION_ERROR", context={"properties": missing}))

    def _inputs(self, body: Any, *, limit: int = MAX_BATCH_INPUTS) -> list[dict[str, Any]]:
        inputs = (body or {}).get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise Rejected(self.error(400, "Invalid input JSON: 'inputs' must be an array of objects"))
        if len(inputs) > limit:
            raise Rejected(
                self.error(
                    400,
                    f"Batch input size must not exceed {limit}; got {len(inputs)} inputs.",
                    errors=[{"message": f"size must be between 0 and {limit}", "in": "inputs"}],
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
        known = self._definitions(obj)
        if user and known.keys() >= fields.keys():
            # Seeding stores what it is given (see below): only the names need checking.
            out = dict(fields)
            for name, raw in out.items():
                if type(raw) is not str:
                    out[name] = _wire(raw)
            if "email" in out:
                out["email"] = out["email"].strip().lower()
            return out
        for name, raw in fields.items():
            definition = known.get(name)
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
            options, allowed = self._options(obj, definition) if definition["options"] else ([], frozenset())
            if value and options and not definition["externalOptions"] and value not in allowed:
                problems.append(
                    _problem(name, "INVALID_OPTION", f"{value} was not one of the allowed options: {options}")
                )
                continue
            if value and definition["type"] == "datetime":
                # ISO 8601 or epoch milliseconds in; HubSpot keeps and answers its own ISO form.
                ms = epoch_ms(value)
                if ms is None:
                    problems.append(_problem(name, "INVALID_DATETIME", f"{value} is not a valid datetime"))
                    continue
                value = iso(datetime.fromtimestamp(ms / 1000, tz=UTC))
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
        # The hot path of seeding: builds what _apply would, and indexes the record once.
        record_id = self.new_id()
        stamp, ms = self._stamps(now)
        created = CREATED_PROPERTY[obj]
        props: dict[str, str] = {created: stamp, **values}
        if "" in props.values():
            props = {created: stamp}
            for name, value in values.items():
                if value == "":
                    props.pop(name, None)  # an empty string clears a HubSpot property
                else:
                    props[name] = value
        props[MODIFIED_PROPERTY[obj]] = stamp
        props["hs_object_id"] = record_id
        record: dict[str, Any] = {
            "id": record_id,
            "properties": props,
            "createdAt": values.get(created) or stamp,
            "updatedAt": stamp,
            "archived": False,
            "archivedAt": None,
        }
        self.state["records"][obj][record_id] = record
        number = int(record_id)
        self._live_ids[obj].add(number)
        if ms is None:
            self._unindexed[obj].add(number)
        else:
            self._by_modified[obj].add(ms * _ID_SPAN + number)
        for name, index in self._values[obj].items():
            value = props.get(name)
            if value is not None and index.setdefault(value, record_id) is not record_id:
                _index_put(index, value, record_id)
        return record

    def _apply(self, obj: str, record: dict[str, Any], values: dict[str, str], now: datetime) -> None:
        props = record["properties"]
        mod = MODIFIED_PROPERTY[obj]
        indexes = self._values[obj]
        number = int(record["id"])
        live = not record["archived"]
        if live:
            self._unindex_modified(obj, number, props.get(mod))
        before = {name: props.get(name) for name in indexes}
        for name, value in values.items():
            if value == "":
                props.pop(name, None)  # an empty string clears a HubSpot property
            else:
                props[name] = value
        stamp, ms = self._stamps(now)
        props[mod] = stamp
        record["updatedAt"] = stamp
        if live:
            if ms is None:
                self._unindexed[obj].add(number)
            else:
                self._by_modified[obj].add(ms * _ID_SPAN + number)
        for name, old in before.items():
            value = props.get(name)
            if value != old:
                if old is not None:
                    _index_drop(indexes[name], old, record["id"])
                if value is not None:
                    _index_put(indexes[name], value, record["id"])

    def _archive(self, obj: str, record: dict[str, Any], now: datetime) -> None:
        number = int(record["id"])
        self._live_ids[obj].discard(number)
        self._archived_ids[obj].add(number)
        self._unindex_modified(obj, number, record["properties"].get(MODIFIED_PROPERTY[obj]))
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


class _SortedInts:
    """A sorted list of ints kept in buckets (the idea of ``sortedcontainers.SortedList``).

    Finding a position bisects the bucket maxima, then one bucket: O(log n). Adding or removing
    a value moves the items of one bucket (at most ``2 * LOAD``), never the whole list, so an
    index of a million records stays cheap to change. Appending past the end (new ids, new
    timestamps) is the common case and costs O(1).
    """

    LOAD = 1000
    __slots__ = ("_len", "_lists", "_maxes")

    def __init__(self, values: Iterable[int] = ()) -> None:
        ordered = sorted(values)
        load = self.LOAD
        self._lists = [ordered[i:i + load] for i in range(0, len(ordered), load)]
        self._maxes = [bucket[-1] for bucket in self._lists]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        return self.iter_from(None)

    def __contains__(self, value: int) -> bool:
        i = bisect_left(self._maxes, value)
        if i == len(self._maxes):
            return False
        bucket = self._lists[i]
        return bucket[bisect_left(bucket, value)] == value

    def add(self, value: int) -> None:
        lists, maxes = self._lists, self._maxes
        if not maxes:
            lists.append([value])
            maxes.append(value)
            i = 0
        elif value >= maxes[-1]:
            i = len(maxes) - 1
            lists[i].append(value)
            maxes[i] = value
        else:
            i = bisect_left(maxes, value)
            insort(lists[i], value)
        self._len += 1
        bucket = lists[i]
        if len(bucket) > 2 * self.LOAD:
            half = bucket[self.LOAD:]
            del bucket[self.LOAD:]
            maxes[i] = bucket[-1]
            lists.insert(i + 1, half)
            maxes.insert(i + 1, half[-1])

    def discard(self, value: int) -> bool:
        lists, maxes = self._lists, self._maxes
        i = bisect_left(maxes, value)
        if i == len(maxes):
            return False
        bucket = lists[i]
        j = bisect_left(bucket, value)
        if bucket[j] != value:
            return False
        del bucket[j]
        self._len -= 1
        if not bucket:
            del lists[i]
            del maxes[i]
        else:
            maxes[i] = bucket[-1]
            if len(bucket) < self.LOAD // 4 and len(lists) > 1:
                # Merge a shrunken bucket into a neighbour, so buckets stay few.
                k = i - 1 if i > 0 else i
                lists[k:k + 2] = [lists[k] + lists[k + 1]]
                maxes[k:k + 2] = [lists[k][-1]]
                merged = lists[k]
                if len(merged) > 2 * self.LOAD:
                    half = merged[self.LOAD:]
                    del merged[self.LOAD:]
                    maxes[k] = merged[-1]
                    lists.insert(k + 1, half)
                    maxes.insert(k + 1, half[-1])
        return True

    def rank(self, value: int) -> int:
        """How many values are smaller than ``value``."""
        i = bisect_left(self._maxes, value)
        if i == len(self._maxes):
            return self._len
        return sum(map(len, self._lists[:i])) + bisect_left(self._lists[i], value)

    def iter_from(self, value: int | None, *, skip: int = 0) -> Iterator[int]:
        """The values ``>= value`` (all when None) in ascending order, the first ``skip`` left
        out (whole buckets are skipped by their length)."""
        lists = self._lists
        if value is None:
            i = j = 0
        else:
            i = bisect_left(self._maxes, value)
            if i == len(lists):
                return
            j = bisect_left(lists[i], value)
        while skip and i < len(lists):
            room = len(lists[i]) - j
            if skip < room:
                j += skip
                break
            skip -= room
            i, j = i + 1, 0
        for k in range(i, len(lists)):
            yield from islice(lists[k], j if k == i else 0, None)

    def iter_below(self, value: int | None) -> Iterator[int]:
        """The values ``< value`` (all when None) in descending order."""
        lists = self._lists
        if not lists:
            return
        i = len(lists) if value is None else bisect_left(self._maxes, value)
        if i == len(lists):
            i -= 1
            j = len(lists[i])
        else:
            j = bisect_left(lists[i], value)
        for k in range(i, -1, -1):
            bucket = lists[k]
            end = j if k == i else len(bucket)
            yield from islice(reversed(bucket), len(bucket) - end, None)


def _newest_first(keys: Iterable[int]) -> Iterator[int]:
    """Ids from modification keys given newest first, ties in ascending id order (the order of
    a DESCENDING sort, whose ties go by id)."""
    run: list[int] = []
    run_ms = None
    for key in keys:
        ms, record_id = divmod(key, _ID_SPAN)
        if ms != run_ms:
            yield from reversed(run)
            run, run_ms = [], ms
        run.append(record_id)
    yield from reversed(run)


def _index_put(index: dict[Any, str | list[str]], value: Any, record_id: str) -> None:
    """Note that record ``record_id`` has ``value`` (ids sharing a value stay in id order)."""
    try:
        entry = index.get(value)
    except TypeError:  # not a string: no lookup can match it
        return
    if entry is None:
        index[value] = record_id
    elif isinstance(entry, str):
        if entry != record_id:
            index[value] = [entry, record_id] if int(entry) < int(record_id) else [record_id, entry]
    elif record_id not in entry:
        insort(entry, record_id, key=int)


def _index_drop(index: dict[Any, str | list[str]], value: Any, record_id: str) -> None:
    try:
        entry = index.get(value)
    except TypeError:
        return
    if entry is None:
        return
    if isinstance(entry, str):
        if entry == record_id:
            del index[value]
    elif record_id in entry:
        entry.remove(record_id)
        if len(entry) == 1:
            index[value] = entry[0]


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


def _associate(record: dict[str, Any], to_obj: str, to_id: str) -> None:
    """Associate ``record`` with ``to_id`` (once: a pair associated again stays one)."""
    linked = record.setdefault("associations", {}).setdefault(to_obj, [])
    if to_id not in linked:
        linked.append(to_id)


def _object_id(value: Any) -> str:
    """The id of a ``{"id": ...}`` reference (an association's ``from`` / ``to``), or ""."""
    return str(value.get("id") or "") if isinstance(value, dict) else ""


def _no_associations(inputs: list[dict[str, Any]], schema: str) -> None:
    """Updates and upserts take no associations: HubSpot refuses the unknown field."""
    if any("associations" in item for item in inputs):
        raise Rejected(FakeHubSpot.json(
            {"status": "error", "category": "VALIDATION_ERROR", "correlationId": str(uuid.uuid4()),
             "message": f'Invalid input JSON on line 1: Unrecognized field "associations" (class {schema}), '
                        "not marked as ignorable"}, 400))


def _properties_of(item: Any) -> dict[str, Any]:
    props = item.get("properties") if isinstance(item, dict) else None
    return props if isinstance(props, dict) else {}


def _list_param(params: httpx.QueryParams, name: str) -> list[str]:
    """A list query parameter sent either repeated (``a=x&a=y``) or comma-separated."""
    return [v for raw in params.get_list(name) for v in raw.split(",") if v]
