"""Seamless Hub: read every tool, resolve identities, write the golden record back."""

from __future__ import annotations

from hub.connector import (
    DELETE,
    INCREMENTAL,
    READ,
    TOMBSTONES,
    UPSERT,
    Capability,
    CheckResult,
    Connector,
    ConnectorSettings,
    FieldInfo,
    Kind,
    Page,
    RateLimit,
    Record,
    Stream,
    TimestampCheckpoint,
    WriteOp,
    WriteResult,
)
from hub.http import HttpClient, RequestBudget
from hub.plugins import hookimpl

__version__ = "0.1.0"

__all__ = [
    "DELETE",
    "INCREMENTAL",
    "READ",
    "TOMBSTONES",
    "UPSERT",
    "Capability",
    "CheckResult",
    "Connector",
    "ConnectorSettings",
    "FieldInfo",
    "HttpClient",
    "Kind",
    "Page",
    "RateLimit",
    "Record",
    "RequestBudget",
    "Stream",
    "TimestampCheckpoint",
    "WriteOp",
    "WriteResult",
    "__version__",
    "hookimpl",
]
