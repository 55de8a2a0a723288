"""Settings: environment (`CASEYARD_*`) over an optional `caseyard.toml`, built once at the
entry point and passed down. Nothing below the composition root reads the environment.

The project is found as git finds its repository: the nearest directory, from the
current one up, holding a `caseyard.toml` or a `.caseyard` data directory. Its
`caseyard.toml` is read, and relative paths that come from it or from the defaults (the
data directory, the embedded bus file...) are taken from the project directory, so
`caseyard cases` run from a subdirectory reads the project's cases. Paths given in the
environment stay relative to where the command runs, as a shell user means them.
"""

from __future__ import annotations

import os
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
from schemas.topology import CASE_PARTITIONS


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


TOML_FILE = "caseyard.toml"
DATA_DIR = ".caseyard"
SQLITE = "sqlite:///"


def find_project(start: Path) -> Path | None:
    """The nearest directory from `start` up holding a caseyard.toml or a .caseyard data
    directory (None: there is none)."""
    for directory in (start, *start.parents):
        if (directory / TOML_FILE).is_file() or (directory / DATA_DIR).is_dir():
            return directory
    return None


def _otel(name: str, *standard: str) -> AliasChoices:
    """A setting read from CASEYARD_<NAME> (or `name` in caseyard.toml), else from the
    standard OpenTelemetry variables, in that order."""
    return AliasChoices(name, f"CASEYARD_{name.upper()}", *standard)


class Settings(BaseSettings):
    """Everything a caseyard process can be told."""

    model_config = SettingsConfigDict(
        env_prefix="CASEYARD_",
        toml_file=TOML_FILE,
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    bus: str = Field(
        default=f"{SQLITE}{DATA_DIR}/bus.db",
        description="kafka://host:port[,host:port], sqlite:///path.db or memory://",
    )
    data_dir: Path = Field(default=Path(DATA_DIR), description="blobs, local state")
    model_cache: Path | None = Field(
        default=None,
        description="Where the local models trained from the corpora are kept (default: "
        "data_dir/models). Each file is named by the model's version and the digest of what "
        "it learned from: projects on one caseyard version may share a directory and train "
        "each model once",
    )
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
    group_prefix: str = Field(
        default="",
        pattern=r"^[a-zA-Z0-9._-]*$",
        description="Put before caseyard's consumer groups ('coordinator', 'agent.NAME') and "
        "the coordinator's transactional ids, on a Kafka shared with other applications "
        "(e.g. 'acme-prod.'); set it before the first start: a group of another name has "
        "no offsets, and an agent's starts from the topic's beginning",
    )
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
    case_partitions: int = Field(
        default=CASE_PARTITIONS,
        gt=0,
        description="Partitions caseyard creates each case-keyed topic with (topics that "
        "exist keep theirs); more allow more coordinator processes",
    )
    session_timeout_ms: int = Field(default=30_000, gt=0)
    connect_timeout: float = Field(default=15.0, gt=0)
    kafka_security_protocol: str = Field(
        default="PLAINTEXT",
        description="Kafka's security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: str | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols)"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA certificates (PEM) the broker's is checked against; default: the system's",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="This client's certificate (PEM), where the broker asks for one"
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Its private key (PEM)")
    kafka_ssl_key_password: SecretStr | None = None

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
    agent_keep_outputs_s: float = Field(
        default=7 * 24 * 3600.0,  # agents.runtime.KEEP_OUTPUTS_S
        gt=0,
        description="How long an agent keeps what each input produced (its processed "
        "store), answering a redelivery without the model; keep it at least the retention "
        "of the agents' input topics",
    )
    inbox_keep_ended_cases: int = Field(
        default=1000,  # caseyard.inbox.projection.KEEP_ENDED_CASES
        ge=1,
        description="Ended cases (with no human task open) whose timelines the inbox keeps "
        "in memory, the latest ones; open tasks are always kept",
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
        project = find_project(Path.cwd())
        toml = (project or Path.cwd()) / TOML_FILE
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml))

    @property
    def embedded_bus_file(self) -> Path | None:
        """The SQLite file of the embedded bus (None: the bus is not embedded)."""
        return Path(self.bus.removeprefix(SQLITE)) if self.bus.startswith(SQLITE) else None

    def require_data(self) -> None:
        """Refuse a command that reads what caseyard wrote when the embedded bus it would
        read does not exist (run from outside the project, it would find no cases).

        Raises:
            ConfigError: Saying where it looked and how to point it elsewhere.
        """
        path = self.embedded_bus_file
        if path is not None and not path.exists():
            raise ConfigError(
                f"no caseyard data at {path.absolute()}: run from your project (a directory with a "
                f"{TOML_FILE} or a {DATA_DIR} directory, or below it) or set CASEYARD_BUS "
                "and CASEYARD_DATA_DIR"
            )

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def model_cache_dir(self) -> Path:
        return self.model_cache or self.data_dir / "models"

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


_PATHS = (
    "data_dir",
    "model_cache",
    "pipelines_dir",
    "tool_servers_file",
    "inbox_users_file",
    "audit_key",
    "kafka_ssl_cafile",
    "kafka_ssl_certfile",
    "kafka_ssl_keyfile",
)


def load_settings(**overrides: object) -> Settings:
    """Build the settings once; a bad value becomes one `ConfigError` line."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"setting {where!r}: {first['msg']}") from exc
    project = find_project(Path.cwd())
    if project is None or project == Path.cwd():
        return settings

    def from_project(name: str) -> bool:
        """Whether the value comes from the project's caseyard.toml or the defaults."""
        return name not in overrides and f"CASEYARD_{name.upper()}" not in os.environ

    moved: dict[str, object] = {}
    for name in _PATHS:
        value = getattr(settings, name)
        if isinstance(value, Path) and not value.is_absolute() and from_project(name):
            moved[name] = project / value
    bus_file = settings.embedded_bus_file
    if bus_file is not None and not bus_file.is_absolute() and from_project("bus"):
        moved["bus"] = f"{SQLITE}{project / bus_file}"
    return settings.model_copy(update=moved)
