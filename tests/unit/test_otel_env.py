"""The standard OTEL_* variables configure tracing as users of any OpenTelemetry SDK expect;
caseyard's own CASEYARD_* settings win where both are set."""

from __future__ import annotations

import importlib.util

import pytest

from caseyard.errors import ConfigError
from caseyard.settings import load_settings
from caseyard.telemetry import tracer_provider


def test_otel_variables_choose_exporter_endpoint_and_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    settings = load_settings()
    assert settings.otel_exporter == "otlp"
    assert settings.otel_endpoint == "http://collector:4318"
    assert settings.otel_protocol == "http/protobuf"
    # The traces-specific endpoint wins over the base one, as in the SDKs.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/v1/traces")
    assert load_settings().otel_endpoint == "http://traces:4318/v1/traces"


def test_caseyard_settings_win_over_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("CASEYARD_OTEL_EXPORTER", "console")
    assert load_settings().otel_exporter == "console"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin", "otel_exporter"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "otel_protocol"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "otel_endpoint"),
    ],
)
def test_a_value_caseyard_cannot_honour_is_one_config_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings()
    assert "\n" not in str(caught.value)


def test_otel_service_name_names_the_service_and_each_part_stays_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "intake-prod")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod")
    provider = tracer_provider(load_settings(), "coordinator")
    assert provider is not None
    attributes = provider.resource.attributes
    assert attributes["service.name"] == "intake-prod"
    assert attributes["caseyard.service"] == "coordinator"
    assert attributes["deployment.environment"] == "prod"
    provider.shutdown()
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    provider = tracer_provider(load_settings(), "extractor")
    assert provider is not None and provider.resource.attributes["service.name"] == "extractor"
    provider.shutdown()


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None,
    reason="the gRPC exporter is installed here",
)
def test_otlp_over_grpc_without_its_exporter_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigError, match=r"pip install 'caseyard\[grpc\]'"):
        tracer_provider(load_settings(), "coordinator")
