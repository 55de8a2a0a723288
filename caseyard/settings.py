"""Settings: environment (`CASEYARD_*`) over an optional `caseyard.toml`, built once at the
entry point and passed down. Nothing below the composition root reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from caseyard.errors import ConfigError


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def _otel(name: str, *standard: str) -> AliasChoices:
    """A setting read from CASEYARD_<NAME> (or `name` in caseyard.toml), else from the
    standard OpenTelemetry variables, in that order."""
    return AliasChoices(name, f"CASEYARD_{name.upper()}", *standard)


class Settings(BaseSettings):
    """Everything a caseyard process can be told."""

    model_config = SettingsConfigDict(
        env_prefix="CASEYARD_",
        toml_file="caseyard.toml",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    bus: str = Field(
        default="sqlite:///.caseyard/bus.db",
        description="kafka://host:port[,host:port], sqlite:///path.db or memory://",
    )
    data_dir: Path = Field(default=Path(".caseyard"), description="blobs, local state")
    pipelines_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "pipelines",
        description="the pipeline definitions the coordinator loads",
    )
    tool_servers_file: Path | None = Field(
        default=None,
        description="The MCP servers tool steps call (YAML, servers: {name: {command|url}}); "
        "default: tools/servers.yaml in pipelines_dir",
    )
    client_id: str = "caseyard"
    registry_url: str | None = Field(
        default=None,
        description="A Confluent-compatible schema registry every service uses instead of "
        "the built-in one (Confluent Schema Registry, Karapace, Apicurio's ccompat API); "
        "https://user:password@host/ for basic auth",
    )
    registry_token: SecretStr | None = Field(
        default=None, description="Bearer token for registry_url"
    )
    max_message_bytes: int = Field(default=1024 * 1024, gt=0)
    max_document_bytes: int = Field(
        default=20 * 1024 * 1024,  # agents.documents.MAX_DOCUMENT_BYTES (a test checks)
        gt=0,
        description="Documents larger than this are refused at submit (the agents read no "
        "more than the default)",
    )
    session_timeout_ms: int = Field(default=30_000, gt=0)
    connect_timeout: float = Field(default=15.0, gt=0)

    openai_base_url: str | None = Field(
        default=None, description="An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000"
    )
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    openai_redact_pii: bool = Field(
        default=True,
        description="Mask IBANs, card numbers, e-mails, phones and national ids in what is "
        "sent to the remote model (a pipeline step may allow kinds: allow_pii parameter)",
    )
    openai_price_in: float = Field(default=0.0, ge=0, description="USD per million tokens")
    openai_price_out: float = Field(default=0.0, ge=0, description="USD per million tokens")
    cloudevents_headers: bool = Field(
        default=False,
        description="Put CloudEvents attributes (ce_* headers) on every event caseyard "
        "publishes, for consumers that route on them; off by default: measured at about a "
        "quarter more CPU per saga case",
    )
    model_routes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per capability, 'provider/model' routes in order (default: the "
        "agent's local models, then the OpenAI-compatible endpoint if configured)",
    )
    health_port: int | None = Field(
        default=None,
        description="Serve /healthz, /readyz and /metrics (Prometheus) on this port (run, up)",
    )
    health_host: str = "127.0.0.1"
    # Tracing also honours the standard OTEL_* variables; CASEYARD_* ones win over them.
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        validation_alias=_otel("otel_exporter", "OTEL_TRACES_EXPORTER"),
        description="Where trace spans go: nowhere, stderr (one JSON line per span), or "
        "OTLP to otel_endpoint (also OTEL_TRACES_EXPORTER)",
    )
    otel_endpoint: Annotated[str, AfterValidator(_http_url)] = Field(
        default="http://127.0.0.1:4318",
        validation_alias=_otel(
            "otel_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="OTLP collector (Jaeger, an OpenTelemetry Collector): the base URL, spans "
        "go to <url>/v1/traces over HTTP (also OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)",
    )
    otel_protocol: Literal["http/protobuf", "grpc"] = Field(
        default="http/protobuf",
        validation_alias=_otel(
            "otel_protocol", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
        ),
        description="OTLP over HTTP, or gRPC with the grpc extra installed (also "
        "OTEL_EXPORTER_OTLP_PROTOCOL)",
    )
    otel_service_name: str | None = Field(
        default=None,
        validation_alias=_otel("otel_service_name", "OTEL_SERVICE_NAME"),
        description="service.name of every span (the caseyard service is then the "
        "caseyard.service attribute); default: the caseyard service's name",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="Service logs on stderr: JSON lines, or text for people"
    )
    smtp_host: str | None = Field(default=None, description="Deliver replies by SMTP")
    smtp_port: int = 25
    drift_psi_alert: float = Field(
        default=0.25,
        gt=0,
        description="A model version whose class mix drifts further than this population "
        "stability index from its training mix is a drift breach (caseyard models report)",
    )
    mcp_token: SecretStr | None = Field(
        default=None,
        description="The inbox API token `caseyard mcp` acts with over stdio (its user's "
        "role and queues apply)",
    )
    inbox_host: str = "127.0.0.1"
    inbox_port: int = Field(default=8080, gt=0, lt=65536)
    inbox_users_file: Path | None = Field(
        default=None, description="Inbox users and API tokens (default: data_dir/inbox-users.toml)"
    )
    inbox_secret: SecretStr | None = Field(
        default=None,
        description="Signs inbox session cookies; default: random per process, so sessions "
        "end when the inbox restarts",
    )
    audit_key: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs the audit checkpoints; default: "
        "data_dir/audit-signing-key.pem, made on first use. Give every coordinator the same "
        "key, and auditors its public key (the .pub file beside it)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    def snapshot_path(self, reader: str) -> Path:
        """Where a reader of the log (the inbox, `caseyard mcp`, `caseyard a2a`) keeps its
        projection between runs."""
        return self.data_dir / "snapshots" / f"{reader}.pickle"

    @property
    def tool_servers_path(self) -> Path:
        return self.tool_servers_file or self.pipelines_dir / "tools" / "servers.yaml"

    @property
    def feedback_path(self) -> Path:
        """Reviewers' confirmations and corrections as training examples (`caseyard
        feedback export` writes it; the classifier learns from it)."""
        return self.data_dir / "feedback.jsonl"

    @property
    def inbox_users_path(self) -> Path:
        return self.inbox_users_file or self.data_dir / "inbox-users.toml"

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key or self.data_dir / "audit-signing-key.pem"


def load_settings(**overrides: object) -> Settings:
    """Build the settings once; a bad value becomes one `ConfigError` line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"setting {where!r}: {first['msg']}") from exc
