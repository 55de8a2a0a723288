"""The scorer agent: fraud/risk score, band and reasons.

Default model: a calibrated gradient-boosting classifier trained on `data/scorer/`, with
each counterparty's history (amounts, bank accounts, domains seen) as the agent's own
durable state. The prompt is JSON (text + the classification and extraction), so a remote
model gets the same evidence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from agents._work import ask, document_text, once, prior
from agents.models.history import SqliteHistory
from agents.models.scorer import MODEL_NAME, Observation, Scorer
from agents.router import CompletionRequest, LocalModel
from agents.runtime import Outcome, TaskWork
from agents.spec import AgentContext, ModelPlace, task_agent
from schemas import ClassifyOutput, DocType, ExtractOutput, ScoreOutput, TaskRequested


def local_models(place: ModelPlace) -> Mapping[str, LocalModel]:
    scorer = once(lambda: Scorer.load(place.cache_dir))
    history = once(lambda: SqliteHistory(place.state_dir / "history.db"))

    def score(request: CompletionRequest) -> ScoreOutput:
        evidence = json.loads(request.prompt)
        observation = Observation.from_outputs(
            evidence["task_id"],
            ClassifyOutput.model_validate(evidence["classify"]),
            ExtractOutput.model_validate(evidence["extract"]),
            evidence["text"],
        )
        return scorer().score(observation, history())

    return {MODEL_NAME: score}


def work(context: AgentContext) -> TaskWork:
    async def run(task: TaskRequested) -> Outcome:
        text = await document_text(context, task)
        classified = prior(task, ClassifyOutput) or ClassifyOutput(
            doc_type=DocType.OTHER, confidence=0.0
        )
        extracted = prior(task, ExtractOutput) or ExtractOutput()
        evidence = {
            "task_id": task.task_id,
            "classify": classified.model_dump(mode="json"),
            "extract": extracted.model_dump(mode="json"),
            "text": text,
        }
        _, outcome = await ask(
            context,
            task,
            json.dumps(evidence),
            ScoreOutput,
            "Score the fraud risk of this document (0..1), its band and the top reasons.",
        )
        return outcome

    return run


AGENT = task_agent(
    "scorer", "score", work, local_models=local_models, description="risk score with reasons"
)
