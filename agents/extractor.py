"""The extractor agent: names, amounts, dates, IBAN/BIC, cards (masked), VAT ids, ...

Default model: rules over python-stdnum and phonenumbers validators, offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from agents._work import ask, document_read
from agents.documents import TextBox
from agents.models.extractor import MODEL_NAME, extract
from agents.router import LocalModel
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, ModelPlace, task_agent
from schemas import ExtractOutput, TaskRequested


def local_models(place: ModelPlace) -> Mapping[str, LocalModel]:
    return {MODEL_NAME: lambda request: extract(request.prompt)}


def work(context: AgentContext) -> TaskWork:
    async def run(task: TaskRequested) -> Outcome:
        text, words = await document_read(context, task)
        output, outcome = await ask(
            context, task, text, ExtractOutput, "Extract the fields of this document."
        )
        return replace(outcome, output=ocr_capped(output, words)) if words else outcome

    return run


def ocr_capped(output: ExtractOutput, words: Sequence[TextBox]) -> ExtractOutput:
    """Each field no surer than OCR was of the least sure word it was read from: a value
    read from a smudged scan is doubtful whatever the rules made of it. A field without a
    span, or whose span meets no word OCR read, keeps its confidence."""
    fields = []
    for field in output.fields:
        span = field.span
        seen = [
            w.confidence
            for w in words
            if span is not None and w.start < span.end and w.end > span.start
        ]
        if seen and min(seen) < field.confidence:
            field = field.model_copy(update={"confidence": round(min(seen), 3)})
        fields.append(field)
    return output.model_copy(update={"fields": tuple(fields)})


AGENT = task_agent(
    "extractor", "extract", work, local_models=local_models, description="fields with spans"
)
