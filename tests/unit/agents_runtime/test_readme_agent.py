"""The new agent shown in README.md works as written."""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.runtime import TaskHandler
from agents.spec import AgentContext, AgentSpec, ModelPlace
from caseyard.models import build_router
from caseyard.settings import Settings
from schemas import BlobStore, Producer, RespondOutput, TaskCompleted, TaskInput, TaskRequested

README = Path(__file__).resolve().parents[3] / "README.md"
pytestmark = pytest.mark.anyio


def readme_agent() -> AgentSpec:
    (code,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(code.splitlines()) <= 35
    module = types.ModuleType("summarizer")
    exec(compile(code, "README.md", "exec"), module.__dict__)  # the README's own code
    spec = module.AGENT
    assert isinstance(spec, AgentSpec)
    return spec


async def test_readme_agent_summarizes_through_the_router(tmp_path: Path) -> None:
    spec = readme_agent()
    blobs = BlobStore(tmp_path)
    producer = Producer(service="summarizer", version="1")
    place = ModelPlace(cache_dir=tmp_path, state_dir=tmp_path)
    now = datetime.now(UTC)
    task = TaskRequested(
        case_id="c1",
        correlation_id="c1",
        occurred_at=now,
        producer=producer,
        task_id="c1/summarize/1.1",
        step="summarize",
        capability="summarize",
        attempt=1,
        input=TaskInput(document=blobs.put(b"Pay invoice 42 today. Thanks.", "text/plain")),
        deadline=now + timedelta(minutes=1),
    )
    settings = Settings(data_dir=tmp_path)
    async with build_router(settings, spec.capabilities, spec.local_models(place)) as router:
        context = AgentContext(blobs=blobs, router=router, state_dir=tmp_path, producer=producer)
        handler = spec.build(context)
        assert isinstance(handler, TaskHandler)
        (emit,) = await handler.handle(task)
    result = emit.event
    assert isinstance(result, TaskCompleted)
    assert isinstance(result.output, RespondOutput)
    assert result.output.body == "Pay invoice 42 today"
    assert (result.usage.provider, result.usage.model) == ("local", "first-sentence-v1")
