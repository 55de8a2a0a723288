"""The responder agent: drafts the reply from templates, redacts, delivers via an outbox.

One reply per case (message id `<case>-reply`), so a redelivered or retried task never
sends twice; the compensation (`parameters.action == "retract"`) withdraws it and tells
the recipient.
"""

from __future__ import annotations

import time

import anyio.to_thread

from agents._work import prior
from agents.models.extractor import field_value
from agents.models.outbox import FileOutbox
from agents.models.responder import Responder
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, task_agent
from schemas import (
    ClassifyOutput,
    ExtractOutput,
    ModelUsage,
    RespondOutput,
    ScoreOutput,
    TaskRequested,
)
from schemas.payloads import Channel

MODEL = "jinja-templates-v1"
UNKNOWN_RECIPIENT = "unknown-recipient@invalid"


def work(context: AgentContext) -> TaskWork:
    responder = Responder()
    outbox = FileOutbox(context.state_dir / "outbox", responder)

    async def run(task: TaskRequested) -> Outcome:
        began = time.perf_counter()
        message_id = f"{task.case_id}-reply"
        if task.input.parameters.get("action") == "retract":
            await anyio.to_thread.run_sync(outbox.retract, message_id, "sent in error")
            original = outbox.load(message_id)
            output = responder.retraction(
                message_id,
                original
                or RespondOutput(
                    channel=Channel.EMAIL, recipient=UNKNOWN_RECIPIENT, subject="", body=""
                ),
                "sent in error",
            )
        else:
            classified = prior(task, ClassifyOutput)
            extracted = prior(task, ExtractOutput) or ExtractOutput()
            scored = prior(task, ScoreOutput)
            recipient = field_value(extracted, "sender_email", "email") or UNKNOWN_RECIPIENT
            output = responder.compose(
                task.input.parameters.get("template", "acknowledgement"),
                recipient=recipient,
                case_id=task.case_id,
                doc_type=classified.doc_type.value if classified else "other",
                fields=extracted,
                context={"risk_score": f"{scored.score:.2f}"} if scored else None,
                redact_fields=task.redact_fields,
            )
            await anyio.to_thread.run_sync(outbox.send, message_id, output)
        usage = ModelUsage(
            provider="local", model=MODEL, latency_ms=(time.perf_counter() - began) * 1000
        )
        return Outcome(output, usage)

    return run


AGENT = task_agent("responder", "respond", work, description="replies through an outbox")
