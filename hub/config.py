"""``hub.yaml``: connectors, rules, conflict policy, schedules; env overrides via pydantic-settings.

Strings may reference environment variables as ``${NAME}`` (secrets belong there, not in the
file). Any ``HUB_`` variable overrides the file, nested with ``__``:
``HUB_CONNECTORS__HUBSPOT__SETTINGS__ACCESS_TOKEN``. Every error names the key and the fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hub.errors import ConfigError

CONFIG_NAME = "hub.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(_Strict):
    """One condition of a create filter, on a canonical path of the golden record."""

    field: str
    equals: Any = None
    one_of: list[Any] | None = None
    exists: bool | None = None
    at_least: str | None = Field(None, description="For ordered values: lifecycle stages.")


class EntityRule(_Strict):
    """How one entity type flows to and from a connector."""

    direction: Literal["both", "read_only", "write_only"] = "both"
    create: bool = True
    create_when: list[Condition] = Field(default_factory=list)


class ConnectorConfig(_Strict):
    type: str | None = None
    enabled: bool = True
    sandbox: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)
    streams: list[str] | None = None
    mapping: str | None = None
    rules: dict[str, EntityRule] = Field(default_factory=dict)
    delete_policy: Literal["ignore", "archive", "propagate"] = "ignore"
    budget: bool = True

    def rule(self, entity: str) -> EntityRule:
        return self.rules.get(entity) or EntityRule()


class ConflictPolicy(_Strict):
    """Default: the newest source timestamp wins; an empty value never overwrites; an opt-out
    consent always wins. ``priority`` lists sources per canonical field (``person.phones``)."""

    default: Literal["newest"] = "newest"
    priority: dict[str, list[str]] = Field(default_factory=dict)


class MassDelete(_Strict):
    """The brake: a run that would delete more than this stops before deleting anything."""

    max_count: int = 100
    max_fraction: float = 0.1


class IdentitySettings(_Strict):
    """Identity resolution. Deterministic links (e-mail, mobile, the hub's key) always apply;
    ``probabilistic`` adds a match model learnt on the workspace's own people once it holds
    ``train_after`` person records. Pairs at or above ``high`` link; pairs from ``low`` up wait
    for ``hub identity review``. A training learns on at most ``train_sample`` records (spread
    over the store) and scores the others' pairs against that model, so that its memory does
    not grow with the store."""

    probabilistic: bool = True
    high: float = Field(0.9, gt=0, le=1)
    low: float = Field(0.5, gt=0, le=1)
    train_after: int = Field(200, ge=2)
    train_sample: int = Field(150_000, ge=100)

    @model_validator(mode="after")
    def _ordered(self) -> IdentitySettings:
        if self.low > self.high:
            raise ValueError(f"identity.low ({self.low}) must not exceed identity.high ({self.high})")
        return self


class Schedule(_Strict):
    name: str
    cron: str
    connectors: list[str] | None = None
    full: bool = False

    @field_validator("cron")
    @classmethod
    def _cron_ok(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (e.g. '*/15 * * * *')")
        return value


class HubConfig(BaseSettings):
    """The whole configuration (file + ``HUB_*`` environment)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="forbid")

    version: int = 1
    database_url: str | None = None
    default_region: str = "JP"
    connectors: dict[str, ConnectorConfig] = Field(default_factory=dict)
    conflict_policy: ConflictPolicy = Field(default_factory=ConflictPolicy)
    mass_delete: MassDelete = Field(default_factory=MassDelete)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    schedules: list[Schedule] = Field(default_factory=list)
    batch_size: int = 1000

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the environment overrides the file

    def enabled(self) -> dict[str, ConnectorConfig]:
        return {name: c for name, c in self.connectors.items() if c.enabled}


class Workspace:
    """A directory holding ``hub.yaml`` and the ``.hub/`` state."""

    def __init__(self, root: Path, config: HubConfig) -> None:
        self.root = root
        self.config = config

    @property
    def state_dir(self) -> Path:
        return self.root / ".hub"

    def sandbox_state(self, connector: str) -> Path:
        return self.state_dir / "sandbox" / f"{connector}.json"


def substitute_env(value: Any, key: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string; a missing variable names the key."""
    if isinstance(value, dict):
        return {k: substitute_env(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set; export {name}=... before running, "
            f"or put the value in hub.yaml",
            key=key,
        )

    return _ENV_REF.sub(repl, value)


def find_config(start: Path | None = None) -> Path | None:
    """``hub.yaml`` in ``start`` or a parent directory, or ``HUB_CONFIG``."""
    if os.environ.get("HUB_CONFIG"):
        return Path(os.environ["HUB_CONFIG"])
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_NAME).exists():
            return d / CONFIG_NAME
    return None


def load(path: Path | None = None) -> Workspace:
    """Load and validate ``hub.yaml``; ConfigError names the key and how to fix it."""
    path = path or find_config()
    if path is None:
        raise ConfigError(f"no {CONFIG_NAME} here or above; run 'hub init' (or 'hub init --sandbox DIR') first")
    if not path.exists():
        raise ConfigError(f"{path} does not exist; run 'hub init' to write a starter file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of keys (connectors:, schedules:, ...)")
    # a disabled connector's secrets need not be set
    for name, c in (raw.get("connectors") or {}).items():
        if isinstance(c, dict) and c.get("enabled") is False:
            c.pop("settings", None)
    raw = substitute_env(raw)
    try:
        config = HubConfig(**raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from None
    return Workspace(path.parent.resolve(), config)


def _explain(exc: ValidationError, path: Path) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        fix = {
            "extra_forbidden": "this key is not known; check its spelling (see 'hub init' for a commented example)",
            "missing": "this key is required",
        }.get(err["type"], err["msg"])
        lines.append(f"  {key}: {fix}")
    return "\n".join(lines)
