"""`/metrics` of a process run by the same wiring as `caseyard run`/`up` (`serve`): scraped
over HTTP after some traffic, every family is there and the counts moved."""

from __future__ import annotations

import socket
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from caseyard.app import open_app, submit
from caseyard.services import serve
from caseyard.settings import load_settings
from tests.helpers import eventually

pytestmark = pytest.mark.anyio

PIPELINE = """
name: metered
version: 1
steps:
  - id: classify
    capability: classify
    escalate:
      - id: look
        when: steps.classify.doc_type == 'complaint'
        queue: reviewers
        reason: a person answers complaints
        sla: 100ms
"""

DOCUMENTS = {
    "invoice.txt": "Invoice 42: 10 EUR due by Friday.",
    "complaint.txt": "This is a complaint: the parcel never arrived.",
    "broken.txt": "This one is broken beyond repair.",
    "flaky.txt": "An invoice from a flaky supplier.",
}

FAMILIES = {
    "caseyard_messages_published",
    "caseyard_messages_consumed",
    "caseyard_handler_duration_seconds",
    "caseyard_handler_errors",
    "caseyard_retries",
    "caseyard_dead_letters",
    "caseyard_consumer_lag",
    "caseyard_agent_inputs",
    "caseyard_agent_errors",
    "caseyard_model_calls",
    "caseyard_model_tokens",
    "caseyard_model_spend_usd",
    "caseyard_model_latency_seconds",
    "caseyard_coordinator_transitions",
    "caseyard_coordinator_ignored",
    "caseyard_coordinator_timers_fired",
    "caseyard_coordinator_timers_applied",
    "caseyard_coordinator_transactions",
    "caseyard_coordinator_open_cases",
    "caseyard_coordinator_restored_cases",
    "caseyard_sla_breaches",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Scrape:
    """One scrape, parsed."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, sample: str, **labels: str) -> float:
        """The value of `sample` with (at least) these labels; 0 if there is none."""
        for family in self.families.values():
            for s in family.samples:
                if s.name == sample and labels.items() <= s.labels.items():
                    return s.value
        return 0.0

    def labels(self, family: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.families[family].samples}


async def test_metrics_move_with_traffic(tmp_path: Path) -> None:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "metered.yaml").write_text(PIPELINE)
    for name, text in DOCUMENTS.items():
        (tmp_path / name).write_text(text)
    port = free_port()
    settings = load_settings(
        bus="memory://", data_dir=tmp_path / "data", pipelines_dir=pipelines, health_port=port
    )
    agent = "tests.integration.metered_agent"
    stop, started = anyio.Event(), anyio.Event()
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        tg.start_soon(partial(serve, app, ["coordinator", agent], stop, started=started))
        with anyio.fail_after(60):
            await started.wait()
        for name in DOCUMENTS:
            await submit(app, tmp_path / name, pipeline="metered")

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def scrape() -> Scrape:
                try:
                    response = await client.get("/metrics")
                except httpx.TransportError as exc:
                    raise AssertionError(f"not serving yet: {exc}") from exc
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain")
                return Scrape(response.text)

            async def moved() -> Scrape:
                now = await scrape()
                assert now.value("caseyard_sla_breaches_total") == 1
                assert now.value("caseyard_agent_inputs_total", outcome="handled") == 3
                # The agent counts a result when it publishes it; the coordinator closes
                # the case a moment later, when it has read it.
                assert now.value("caseyard_coordinator_open_cases") == 1  # the complaint waits
                return now

            got = await eventually(moved, timeout=60, interval=0.1)
            # Prometheus asks for OpenMetrics when it stores exemplars: served as such.
            asked = await client.get(
                "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
            )
            assert asked.headers["content-type"].startswith("application/openmetrics-text")
            assert asked.text.rstrip().endswith("# EOF")
            assert "caseyard_handler_duration_seconds_bucket" in asked.text
            ready = (await client.get("/readyz")).json()
            assert ready == {"ready": True, "quarantined_cases": {}}
        stop.set()

    assert FAMILIES <= set(got.families)
    assert got.value("caseyard_messages_published_total", topic="caseyard.intake") == 4
    assert got.value("caseyard_messages_consumed_total", topic="caseyard.intake") >= 4
    handled = "caseyard_handler_duration_seconds_count"
    assert got.value(handled, topic="caseyard.intake", group="coordinator") == 4
    assert got.value(handled, topic="caseyard.tasks.classify", group="agent.metered") == 4
    assert got.value(handled, topic="caseyard.retry.metered.1", group="agent.metered.retry.1") == 1
    assert got.value("caseyard_retries_total", topic="caseyard.retry.metered.1") == 1
    assert got.value("caseyard_dead_letters_total", error_class="CorruptDocument") == 1
    assert got.value("caseyard_agent_inputs_total", agent="metered", outcome="failed") == 1
    assert got.value("caseyard_agent_errors_total", error="DeliveryUnavailable") == 1
    model = {"agent": "metered", "provider": "local", "model": "keywords-v1"}
    assert got.value("caseyard_model_calls_total", **model, outcome="served") == 3
    assert got.value("caseyard_model_tokens_total", **model, direction="input") > 0
    assert got.value("caseyard_model_tokens_total", **model, direction="output") > 0
    assert got.value("caseyard_model_spend_usd_total", **model) == 0  # local models are free
    applied = "caseyard_coordinator_timers_applied_total"
    assert got.value(applied, purpose="human_sla") == 1
    assert got.value("caseyard_coordinator_transitions_total") >= 8
    assert {"coordinator", "agent.metered"} <= got.labels("caseyard_consumer_lag", "group")
