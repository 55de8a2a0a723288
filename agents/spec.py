"""How an agent is declared: one module with one `AGENT = ...` is a whole agent.

`caseyard run NAME` imports `agents.NAME` (or any `package.module` given in full) and runs
its `AGENT`, so adding an agent needs no change anywhere else. A task agent serves a
capability: `task_agent(...)` wraps a function `TaskRequested -> Outcome`. Any other agent
subscribes to existing topics with its own `Handler` (see `agents/language.py`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.mcp import ToolClient
from agents.router import LocalModel, Router
from agents.runtime import Clock, Handler, TaskHandler, TaskWork, utc_now
from bus.errors import ConfigError
from schemas import BlobStore, Event, Producer
from schemas.topology import tasks_topic


@dataclass(frozen=True)
class AgentContext:
    """What the runtime gives an agent when it builds it."""

    blobs: BlobStore
    router: Router
    """Routes the agent's capabilities to its local models and any configured endpoint."""
    state_dir: Path
    """A directory for the agent's own durable state (created for it)."""
    producer: Producer
    clock: Clock = utc_now
    tools: ToolClient | None = None
    """The tools of the configured MCP servers (the router's sibling); None where the
    composition root gave the agent none."""


@dataclass(frozen=True)
class ModelPlace:
    """Where an agent's offline models keep their files."""

    cache_dir: Path
    """Trained models, rebuilt when the training data changes."""
    state_dir: Path
    """The agent's durable state (e.g. a scorer's counterparty history)."""
    feedback: Path | None = None
    """What people confirmed or corrected, as training examples (may not exist yet)."""


LocalModels = Callable[[ModelPlace], Mapping[str, LocalModel]]


def no_models(place: ModelPlace) -> Mapping[str, LocalModel]:
    return {}


@dataclass(frozen=True)
class AgentSpec:
    """An agent: its name, the topics it reads, and how to build its handler."""

    name: str
    topics: Sequence[str]
    build: Callable[[AgentContext], Handler]
    version: str = "1.0.0"
    description: str = ""
    capabilities: tuple[str, ...] = field(default=())
    own_topics: tuple[str, ...] = ()
    """Topics the agent writes that the topology does not have (created at start)."""
    own_events: tuple[type[Event], ...] = ()
    """Event types the agent defines itself (its codec learns them besides the catalog)."""
    local_models: LocalModels = no_models
    """The offline models the router offers for the agent's capabilities, by name, in the
    order they are tried; loaded lazily by the models themselves."""


def task_agent(
    name: str,
    capability: str,
    work: Callable[[AgentContext], TaskWork],
    *,
    local_models: LocalModels = no_models,
    version: str = "1.0.0",
    description: str = "",
) -> AgentSpec:
    """An agent serving `capability`: `work(context)` returns the function doing one task."""

    def build(context: AgentContext) -> Handler:
        return TaskHandler(capability, work(context), context.producer, clock=context.clock)

    return AgentSpec(
        name=name,
        topics=(tasks_topic(capability).name,),
        build=build,
        version=version,
        description=description,
        capabilities=(capability,),
        local_models=local_models,
    )


def find_agent(name: str) -> AgentSpec:
    """The `AGENT` of module `agents.<name>`, or of `name` itself if it is a dotted path.

    Raises:
        ConfigError: No such module, or it has no `AGENT` spec.
    """
    module_name = name if "." in name else f"agents.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name and not module_name.startswith(f"{exc.name}."):
            raise
        raise ConfigError(f"no agent {name!r}: module {module_name} not found") from exc
    spec = getattr(module, "AGENT", None)
    if not isinstance(spec, AgentSpec):
        raise ConfigError(f"module {module_name} has no AGENT = AgentSpec(...)")
    return spec
