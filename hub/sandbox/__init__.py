"""Sandbox tools: stateful in-process fakes of vendor APIs, for demos, rehearsals and tests."""

from __future__ import annotations

from hub.sandbox.fake import Fault, FakeVendor, route

__all__ = ["Fault", "FakeVendor", "route"]
