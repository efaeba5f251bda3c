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
    distinct_batches,
)
from hub.http import HttpClient, RequestBudget
from hub.plugins import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Capability",
    "CheckResult",
    "Connector",
    "ConnectorSettings",
    "DELETE",
    "FieldInfo",
    "HttpClient",
    "INCREMENTAL",
    "Kind",
    "Page",
    "READ",
    "RateLimit",
    "Record",
    "RequestBudget",
    "Stream",
    "TOMBSTONES",
    "TimestampCheckpoint",
    "UPSERT",
    "WriteOp",
    "WriteResult",
    "__version__",
    "distinct_batches",
    "hookimpl",
]
