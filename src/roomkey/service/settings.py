"""Server settings: one declared table that drives defaults, validation, ``--help`` and docs.

Values come from (highest first) command-line flags, ``ROOMKEY_*`` environment variables, an
optional TOML config file (``ROOMKEY_CONFIG`` or ``--config``), then the defaults below. Secrets
are ``SecretStr``: masked in every repr and log line.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from roomkey.errors import ConfigurationError

DEV_API_KEY = "devkey"
# The fixed development secret, like `livekit-server --dev`; refused outside --dev.
DEV_API_SECRET = "roomkey-development-secret-do-not-use-in-production"


class ServerSettings(BaseSettings):
    """Every setting of ``roomkey serve``; each field's description is its documentation."""

    model_config = SettingsConfigDict(env_prefix="ROOMKEY_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(7800, ge=0, le=65535, description="TCP port to listen on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes.")
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    data_dir: Path = Field(
        Path(".roomkey"),
        description="Directory for the SQLite database and the master key file "
        "(kept at mode 0700, its files 0600).",
    )
    database_url: str | None = Field(
        None,
        description="sqlite:///path or postgresql://user@host/db; default SQLite in data_dir.",
    )
    redis_url: str | None = Field(
        None,
        description="redis://host:port/db. With it, nodes on one PostgreSQL database share "
        "state changes, live rooms and rate limits through Redis; without it a node polls the "
        "database for changes (refresh_interval_s) and keeps rooms and rate limits to itself.",
    )
    redis_namespace: str = Field(
        "roomkey",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Prefix of every Redis key and channel: the nodes of one deployment share "
        "it, two deployments on one Redis server need two.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Base64url 32-byte key encrypting secrets at rest; default a 0600 key file.",
    )
    dev: bool = Field(False, description="Development mode: fixed key 'devkey' and dev secret.")
    public_url: str = Field(
        "ws://127.0.0.1:7880",
        description="Media server URL returned as server_url by the LiveKit-style endpoint.",
    )
    leeway_s: int = Field(60, ge=0, le=300, description="Clock leeway when verifying, seconds.")
    max_token_bytes: int = Field(8192, ge=512, le=65536, description="Largest token accepted.")
    max_body_bytes: int = Field(65536, ge=1024, le=10_485_760, description="Request body cap.")
    rate_limit_per_min: int = Field(
        6000,
        ge=1,
        description="Token issuances per minute per caller (unless the project sets one).",
    )
    sandbox_rate_limit_per_min: int = Field(
        60, ge=1, description="Sandbox issuances per minute per sandbox id and client address."
    )
    verify_rate_limit_per_min: int = Field(
        60000,
        ge=1,
        description="Verifications per minute (POST /v1/tokens/verify, GET /rtc/validate) per "
        "client address, or per caller when a server token is sent.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks (10.0.0.0/8) of the proxies in front "
        "of the nodes. Only a request whose socket peer is one of them has its client address "
        "read from X-Forwarded-For (for the limits per client address); by default the socket "
        "peer is the client.",
    )
    sandbox_max_ttl_s: int = Field(900, ge=60, description="TTL cap for sandbox tokens.")
    refresh_interval_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often a node (with several workers, or PostgreSQL) reads the change "
        "feed in the database and applies what other nodes changed; with Redis, changes "
        "arrive sooner and this is the fallback while Redis is down.",
    )
    admission_grace_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How long a live session may have no event stream (WebSocket) open before "
        "it ends as left; with several nodes, also how long the sessions of a node that died "
        "stay before they end.",
    )
    admission_node_timeout_s: float = Field(
        5.0,
        gt=1,
        le=300,
        description="With Redis: how long a node's heartbeat may lapse before the other nodes "
        "count it dead and end its sessions (after admission_grace_s).",
    )
    audit_batch_max: int = Field(256, ge=1, le=10000, description="Audit rows per group commit.")
    webhook_delivery: bool = Field(
        True, description="Whether this node delivers webhooks (any number of nodes may)."
    )
    webhook_allow_private: bool = Field(
        False,
        description="Whether webhook endpoints may opt in (allow_private) to URLs that resolve "
        "to private, loopback or link-local addresses. Off, every such URL is refused.",
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Time allowed for one webhook attempt, whole."
    )
    webhook_lease_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long a node's claim on a delivery lasts; a node that dies mid-delivery "
        "leaves it to another after this. At least webhook_timeout_s.",
    )
    webhook_max_attempts: int = Field(
        12, ge=1, le=100, description="Attempts of a webhook delivery before it is dead."
    )
    webhook_backoff_s: float = Field(
        2.0, gt=0, le=3600, description="Delay after a webhook's first failed attempt (doubling)."
    )
    webhook_backoff_max_s: float = Field(
        3600.0, gt=0, le=86400, description="Longest delay between two webhook attempts."
    )
    webhook_concurrency: int = Field(
        16, ge=1, le=1024, description="Webhook attempts in flight at once on a node."
    )
    webhook_poll_s: float = Field(
        0.5, gt=0, le=60, description="How often a node looks for due webhook deliveries."
    )
    webhook_max_response_bytes: int = Field(
        65536, ge=0, le=10_485_760, description="Bytes of a receiver's answer read, at most."
    )
    webhook_retention_s: int = Field(
        7 * 86400, ge=60, description="How long finished webhook deliveries stay in the log."
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("log_level must be debug, info, warning or error")
        return value.lower()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry:
                ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
        return value

    @model_validator(mode="after")
    def _lease_covers_an_attempt(self) -> ServerSettings:
        if self.webhook_lease_s < self.webhook_timeout_s:
            raise ValueError("webhook_lease_s must be at least webhook_timeout_s")
        return self

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'roomkey.db'}"


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from defaults, the config file, the environment and ``overrides`` (flags).

    Raises :class:`ConfigurationError` naming the bad setting.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(_read_config(Path(config_file)))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        # init kwargs beat the environment in pydantic-settings; apply the file under env
        env_only = ServerSettings()
        merged = {**_from_file_under_env(values, env_only), **overrides_only(overrides)}
        return ServerSettings(**merged)
    except ValueError as exc:
        raise ConfigurationError(f"invalid setting: {_first_error(exc)}") from exc


def overrides_only(overrides: dict[str, Any]) -> dict[str, Any]:
    """Flags that were actually given."""
    return {k: v for k, v in overrides.items() if v is not None}


def _from_file_under_env(values: dict[str, Any], env: ServerSettings) -> dict[str, Any]:
    explicit_env = env.model_fields_set
    return {k: v for k, v in values.items() if k not in explicit_env}


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    section = data.get("roomkey", data)
    if not isinstance(section, dict):
        raise ConfigurationError(f"config file {path}: [roomkey] must be a table")
    unknown = sorted(set(section) - set(ServerSettings.model_fields))
    if unknown:
        raise ConfigurationError(f"config file {path}: unknown setting {unknown[0]!r}")
    return section


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    return str(exc)


def settings_table() -> list[dict[str, str]]:
    """Name, environment variable, default and description of every setting (for docs)."""
    rows = []
    for name, field in ServerSettings.model_fields.items():
        default = field.default
        rows.append(
            {
                "name": name,
                "env": f"ROOMKEY_{name.upper()}",
                "default": "" if default is None else str(default),
                "description": field.description or "",
            }
        )
    return rows
