"""The extractor agent: names, amounts, dates, IBAN/BIC, cards (masked), VAT ids, ...

Default model: rules over python-stdnum and phonenumbers validators, offline.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents._work import ask, document_text
from agents.models.extractor import MODEL_NAME, extract
from agents.router import LocalModel
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, ModelPlace, task_agent
from schemas import ExtractOutput, TaskRequested


def local_models(place: ModelPlace) -> Mapping[str, LocalModel]:
    return {MODEL_NAME: lambda request: extract(request.prompt)}


def work(context: AgentContext) -> TaskWork:
    async def run(task: TaskRequested) -> Outcome:
        text = await document_text(context, task)
        _, outcome = await ask(
            context, task, text, ExtractOutput, "Extract the fields of this document."
        )
        return outcome

    return run


AGENT = task_agent(
    "extractor", "extract", work, local_models=local_models, description="fields with spans"
)
