"""The classifier agent: document type (ten types) and urgency.

Default model: TF-IDF + linear model trained on `data/classifier/corpus.jsonl`, the real
documents of `data/real` and what reviewers confirmed or corrected (`caseyard feedback
export`), offline.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents._work import ask, document_text, once
from agents.models.classifier import MODEL_NAME, Classifier
from agents.router import LocalModel
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, ModelPlace, task_agent
from schemas import ClassifyOutput, TaskRequested


def local_models(place: ModelPlace) -> Mapping[str, LocalModel]:
    model = once(lambda: Classifier.load(place.cache_dir, feedback=place.feedback))
    return {MODEL_NAME: lambda request: model().classify(request.prompt)}


def work(context: AgentContext) -> TaskWork:
    async def classify(task: TaskRequested) -> Outcome:
        text = await document_text(context, task)
        _, outcome = await ask(
            context, task, text, ClassifyOutput, "Classify this document and its urgency."
        )
        return outcome

    return classify


AGENT = task_agent(
    "classifier",
    "classify",
    work,
    local_models=local_models,
    description="document type and urgency",
)
