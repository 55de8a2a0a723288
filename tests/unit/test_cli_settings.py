"""Settings whose defaults must agree with the parts they configure."""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError

from agents.documents import MAX_DOCUMENT_BYTES
from bus import KafkaSecurity
from caseyard.app import open_app
from caseyard.services import run_services
from caseyard.settings import Settings, load_settings
from caseyard.wiring import kafka_security


def test_submit_accepts_no_larger_document_than_the_agents_read() -> None:
    assert Settings().max_document_bytes == MAX_DOCUMENT_BYTES


def test_the_kafka_security_settings_reach_the_bus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As a deployment sets them: environment variables, secrets kept as secrets."""
    for name, value in {
        "CASEYARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CASEYARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "CASEYARD_KAFKA_SASL_USERNAME": "svc",
        "CASEYARD_KAFKA_SASL_PASSWORD": "s3cret",
        "CASEYARD_KAFKA_SSL_CAFILE": str(tmp_path / "ca.pem"),
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert "s3cret" not in repr(settings)
    assert kafka_security(settings) == KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="svc",
        sasl_password="s3cret",
        ssl_cafile=str(tmp_path / "ca.pem"),
    )
    for name in ("SECURITY_PROTOCOL", "SASL_MECHANISM", "SASL_USERNAME", "SASL_PASSWORD"):
        monkeypatch.delenv(f"CASEYARD_KAFKA_{name}")
    monkeypatch.delenv("CASEYARD_KAFKA_SSL_CAFILE")
    assert kafka_security(Settings()) == KafkaSecurity()  # plaintext, as a local broker


@pytest.mark.anyio
async def test_the_group_prefix_reaches_every_consumer_group(tmp_path: Path) -> None:
    """What `caseyard run` starts joins the prefixed groups only."""
    settings = Settings(bus="memory://", data_dir=tmp_path, group_prefix="acme-prod.")
    stop, started = anyio.Event(), anyio.Event()
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        tg.start_soon(
            functools.partial(
                run_services, app, ["coordinator", "responder"], stop, started=started
            )
        )
        with anyio.fail_after(60):
            await started.wait()
        groups = {consumer.group for consumer in app.bus.consumers()}
        stop.set()
    assert groups == {
        "acme-prod.coordinator",
        "acme-prod.agent.responder",
        *(f"acme-prod.agent.responder.retry.{level}" for level in (1, 2, 3)),
    }
    with pytest.raises(ValidationError):
        Settings(group_prefix="acme prod")


def test_the_model_cache_is_the_data_dirs_unless_one_is_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Projects may share one model cache (its files are named by what each model learned
    from); one named in caseyard.toml is taken from the project, as the data directory."""
    monkeypatch.delenv("CASEYARD_MODEL_CACHE", raising=False)
    monkeypatch.delenv("CASEYARD_DATA_DIR", raising=False)
    assert Settings(data_dir=tmp_path).model_cache_dir == tmp_path / "models"
    monkeypatch.setenv("CASEYARD_MODEL_CACHE", str(tmp_path / "shared"))
    assert Settings(data_dir=tmp_path).model_cache_dir == tmp_path / "shared"

    monkeypatch.delenv("CASEYARD_MODEL_CACHE")
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "caseyard.toml").write_text('model_cache = "../models"\n')
    monkeypatch.chdir(project / "docs")
    assert load_settings().model_cache_dir == project / ".." / "models"
