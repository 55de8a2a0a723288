"""The tools agent: the `tool` capability, one MCP tool call per task.

A pipeline's tool step (``tool: {server, name, arguments}``) reaches this agent as a task
whose parameters name the server and the tool and whose arguments the coordinator already
evaluated. A models rule of the pipeline that applies to the step is its tool allow-list
(``allow: ['mcp/vendors/*']``): a tool outside it is refused before any call. The call's
idempotency key is the task id; what a crash does to a call is in
`agents.mcp`. The output records the call (`ToolOutput`): later steps, replay and audit
read the record, and nothing calls the tool for it again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agents.errors import ToolError
from agents.mcp import ToolClient, ToolResult
from agents.router import Constraints
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, task_agent
from bus.errors import ConfigError
from schemas import ModelUsage, TaskRequested, ToolOutput, ToolStatus

CAPABILITY = "tool"


def output_of(result: ToolResult) -> ToolOutput:
    """The recorded form of a call."""
    return ToolOutput(
        server=result.server,
        tool=result.tool,
        idempotency_key=result.key,
        status=ToolStatus.OK if result.known else ToolStatus.UNKNOWN,
        result=json.dumps(result.result, ensure_ascii=False, default=str),
        text=result.text,
    )


def work(context: AgentContext) -> TaskWork:
    if context.tools is None:
        raise ConfigError("the tools agent was built without a tool client")
    return tool_work(context.tools)


def tool_work(tools: ToolClient) -> TaskWork:
    """One task: check the allow-list, call the tool once for the task's key, record it."""

    async def call(task: TaskRequested) -> Outcome:
        parameters = task.input.parameters
        server, tool = parameters.get("server"), parameters.get("tool")
        if not server or not tool:
            raise ConfigError(f"task {task.task_id} names no tool (parameters server and tool)")
        # A pipeline's models rule covers tools too: 'mcp/<server>/<tool>' globs.
        if not Constraints.from_task(task).allows("mcp", f"{server}/{tool}"):
            raise ToolError(
                f"tool mcp/{server}/{tool} is not allowed here (allowed: "
                f"{', '.join(task.allowed_models)})"
            )
        try:
            arguments = json.loads(task.input.arguments or "{}")
        except ValueError:
            raise ConfigError(f"task {task.task_id}: arguments are not JSON") from None
        if not isinstance(arguments, dict):
            raise ConfigError(f"task {task.task_id}: arguments are not a JSON object")
        left = (task.deadline - datetime.now(UTC)).total_seconds()
        result = await tools.call(
            server, tool, arguments, key=task.task_id, timeout=max(left, 0.001)
        )
        return Outcome(output_of(result), ModelUsage(provider="mcp", model=f"{server}/{tool}"))

    return call


AGENT = task_agent(
    "tools",
    CAPABILITY,
    work,
    description="Calls tools on MCP servers for pipeline tool steps, once per key.",
)
