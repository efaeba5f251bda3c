"""Connector instances for a workspace: config + plugin classes + mappings + sandbox fakes.

The engine reaches connectors only through this module and the plugin manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from hub.connector import UPSERT, Connector, Stream
from hub.errors import ConfigError
from hub.http import RequestBudget
from hub.mapping import Mapping, StreamMap, find_mapping_file, load_mapping_file, mapping_dirs
from hub.sandbox.fake import FakeVendor, sandbox_settings

if TYPE_CHECKING:
    from hub.config import ConnectorConfig, Workspace
    from hub.plugins import Plugins

# Entities are processed in this order so that references resolve (a person's organisation
# exists before the person; a ticket's requester before the ticket).
ENTITY_ORDER = ("organization", "person", "deal", "ticket", "activity")


@dataclass
class Runtime:
    """One configured connector instance."""

    name: str
    cls: type[Connector]
    config: ConnectorConfig
    mapping: Mapping
    settings: Any
    fake: FakeVendor | None = None
    _connector: Connector | None = field(default=None, repr=False)

    @property
    def connector(self) -> Connector:
        if self._connector is None:
            transport = self.fake.transport() if self.fake else None
            budget = None
            if self.config.budget and self.cls.rate_limit and not self.fake:
                budget = RequestBudget.for_limit(self.cls.rate_limit, account=f"{self.cls.name}:{self.settings.base_url}")
            self._connector = self.cls(self.settings, instance=self.name, transport=transport, budget=budget)
        return self._connector

    def streams(self) -> list[tuple[Stream, StreamMap]]:
        """The mapped streams to sync, in entity order."""
        wanted = self.config.streams
        out = []
        for sname, smap in self.mapping.streams.items():
            if wanted is not None and sname not in wanted:
                continue
            out.append((self.cls.stream(sname), smap))
        out.sort(key=lambda p: ENTITY_ORDER.index(p[1].entity))
        return out

    def readable(self, smap: StreamMap) -> bool:
        return self.config.rule(smap.entity).direction != "write_only" and any(f.inbound for f in smap.fields)

    def writable(self, stream: Stream, smap: StreamMap) -> bool:
        return (
            self.config.rule(smap.entity).direction != "read_only"
            and stream.can(UPSERT)
            and any(f.outbound for f in smap.fields)
        )

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None


def build(
    workspace: Workspace,
    plugins: Plugins,
    *,
    only: list[str] | None = None,
    fakes: dict[str, FakeVendor] | None = None,
) -> dict[str, Runtime]:
    """Instantiate the enabled connectors (or ``only`` those) of a workspace.

    Args:
        fakes: sandbox fakes to use instead of building them from workspace state (tests, bench).
    """
    config = workspace.config
    enabled = config.enabled()
    if only:
        unknown = [n for n in only if n not in config.connectors]
        if unknown:
            raise ConfigError(f"no connector named {', '.join(unknown)} in hub.yaml (configured: {', '.join(config.connectors) or 'none'})")
        enabled = {n: c for n, c in enabled.items() if n in only}
    dirs = mapping_dirs(workspace.root, plugins.mapping_dirs)
    out: dict[str, Runtime] = {}
    for name, cc in enabled.items():
        cls = plugins.connector(cc.type or name)
        fake = None
        raw_settings = dict(cc.settings)
        if cc.sandbox:
            fake = (fakes or {}).get(name) or plugins.sandbox(cls.name)(state_path=workspace.sandbox_state(name))
            raw_settings = {**sandbox_settings(fake), **raw_settings}
            for fname, finfo in cls.Settings.model_fields.items():
                if finfo.annotation in (SecretStr, SecretStr | None) and fname not in raw_settings:
                    raw_settings[fname] = fake.token
        try:
            settings = cls.Settings(**raw_settings)
        except ValidationError as exc:
            problems = "; ".join(
                f"connectors.{name}.settings.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"connector {name!r} settings are invalid: {problems}") from None
        mfile = find_mapping_file(cc.mapping or cls.name, dirs)
        mapping, issues = load_mapping_file(
            mfile, plugins.transforms, streams=[s.name for s in cls.streams], default_region=config.default_region
        )
        if issues or mapping is None:
            raise ConfigError("mapping errors (run 'hub mappings validate'):\n" + "\n".join(str(i) for i in issues))
        if cc.streams:
            missing = [s for s in cc.streams if s not in mapping.streams]
            if missing:
                raise ConfigError(
                    f"streams {missing} are not mapped in {mfile}", key=f"connectors.{name}.streams"
                )
        out[name] = Runtime(name, cls, cc, mapping, settings, fake)
    return out
