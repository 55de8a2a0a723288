"""A task agent for the metrics test: classifies through the model router (a local model,
so tokens are counted) and fails as the document asks, to move retries and dead letters.

`caseyard run tests.integration.metered_agent` would run it like any agent module.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents._work import ask, document_text
from agents.errors import CorruptDocument, DeliveryUnavailable
from agents.router import CompletionRequest, LocalModel
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, ModelPlace, task_agent
from schemas import ClassifyOutput, DocType, TaskRequested

_failed_once: set[str] = set()


def keywords(request: CompletionRequest) -> ClassifyOutput:
    kind = DocType.COMPLAINT if "complaint" in request.prompt.lower() else DocType.INVOICE
    return ClassifyOutput(doc_type=kind, confidence=0.9)


def local_models(place: ModelPlace) -> Mapping[str, LocalModel]:
    return {"keywords-v1": keywords}


def work(context: AgentContext) -> TaskWork:
    async def classify(task: TaskRequested) -> Outcome:
        text = await document_text(context, task)
        if "broken" in text:
            raise CorruptDocument("this document says it is broken")
        if "flaky" in text and task.task_id not in _failed_once:
            _failed_once.add(task.task_id)
            raise DeliveryUnavailable("flaky: fails once, then works")
        _, outcome = await ask(context, task, text, ClassifyOutput, "Classify the document.")
        return outcome

    return classify


AGENT = task_agent("metered", "classify", work, local_models=local_models)
