"""The Salesforce plugin: the CRM connector (Lead, Contact, Account, Opportunity, Case), its sandbox
fake (mapping: ``mappings/salesforce.yaml``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugins import hookimpl
from plugins.salesforce.connector import Salesforce, SalesforceSettings
from plugins.salesforce.fake import FakeSalesforce

__all__ = ["FakeSalesforce", "Salesforce", "SalesforceSettings", "hub_register_connectors", "hub_register_sandboxes"]


@hookimpl
def hub_register_connectors(register: Callable[[type], None]) -> None:
    """Register the Salesforce connector."""
    register(Salesforce)


@hookimpl
def hub_register_sandboxes(register: Callable[[str, type], None]) -> None:
    """Register the fake Salesforce org used by ``hub init --sandbox``."""
    register("salesforce", FakeSalesforce)
