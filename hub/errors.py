"""Errors of Seamless Hub, grouped by what the engine must do with them.

    HubError
    ├── ConfigError             stop before anything runs (exit code 2)
    │   └── MissingSecretError  a credential is not set; names the env var / key
    ├── PluginError             a plugin misbehaves; reported by name, loading goes on
    ├── ConnectorError          names the connector (and stream)
    │   ├── AuthError           credentials refused: fatal for this connector
    │   ├── VendorError         non-retriable API error: fatal for this connector
    │   └── RetriableError      429 / 5xx / timeout: retried, fatal once retries run out
    │       └── RateLimitedError
    ├── RecordError             one bad record: dead-letter it, the run goes on
    │   └── MappingError        names the field and the transform
    ├── MassDeleteError         the mass-delete brake stopped the run
    └── RunFailed               the run could not finish (exit code 3)
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration is wrong; nothing runs until it is fixed.

    Args:
        message: what is wrong and how to fix it.
        key: the dotted config key at fault, if any.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class UsageError(ConfigError):
    """A command was asked for something it cannot do as asked (exit code 2, like a config error)."""


class MissingSecretError(ConfigError):
    """A credential is missing; says which environment variable or key to set."""


class PluginError(HubError):
    """A plugin failed to load or registered something invalid."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")


class ConnectorError(HubError):
    """An error talking to one vendor; always names the connector."""

    def __init__(
        self,
        message: str,
        *,
        connector: str = "?",
        stream: str | None = None,
        status: int | None = None,
        body: str | None = None,
    ) -> None:
        self.connector = connector
        self.stream = stream
        self.status = status
        self.body = body  # the vendor's whole error body, secrets redacted
        self.reason = message
        where = connector + (f"/{stream}" if stream else "")
        super().__init__(f"[{where}] {message}")


class AuthError(ConnectorError):
    """The vendor refused the credentials (401/403)."""


class VendorError(ConnectorError):
    """A non-retriable vendor error (4xx other than 429, or garbage in a 200)."""


class RetriableError(ConnectorError):
    """A transient error (429, 5xx, timeout); ``retry_after`` in seconds if the vendor said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class RateLimitedError(RetriableError):
    """The vendor said: slow down (429 or a vendor-specific limit signal)."""


class RecordError(HubError):
    """One record cannot be processed; it goes to the dead-letter store.

    Args:
        reason: what is wrong.
        connector, stream, source_id, field: where, as precisely as known.
    """

    def __init__(
        self,
        reason: str,
        *,
        connector: str | None = None,
        stream: str | None = None,
        source_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.connector = connector
        self.stream = stream
        self.source_id = source_id
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = "/".join(p for p in (self.connector, self.stream, self.source_id) if p)
        field = f" field {self.field!r}" if self.field else ""
        return f"[{where or '?'}]{field}: {self.reason}"

    def locate(self, *, connector: str, stream: str, source_id: str | None) -> RecordError:
        """Fill in where the error happened (mapping code does not know) and return self."""
        self.connector = self.connector or connector
        self.stream = self.stream or stream
        self.source_id = self.source_id or source_id
        self.args = (self._render(),)
        return self


class MappingError(RecordError):
    """A field could not be mapped or transformed."""


class MassDeleteError(HubError):
    """More deletions than the configured limit: the run stops before deleting anything."""


class RunFailed(HubError):
    """The run could not finish."""
