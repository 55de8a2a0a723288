"""An example of adding an agent with no change anywhere else: language detection.

It subscribes to the existing intake topic (it is not part of any pipeline), detects the
language of each submitted document, and publishes its own event type to its own topic.
A new consumer group starts at the earliest offset, so its first run backfills every case
still on the topic. Run it with `caseyard run language`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from agents._work import document_text
from agents.runtime import Emit, Handler
from agents.spec import AgentContext, AgentSpec
from schemas import CaseSubmitted, Event, TaskInput, TaskRequested
from schemas.topology import INTAKE

TOPIC = "caseyard.language"

STOPWORDS = {
    "en": "the and of to in is for you your with this that are on be please",
    "de": "der die das und ist nicht mit sie ihr ein eine zu von bitte wir",
    "fr": "le la les et est pas vous votre avec une des du pour nous merci",
    "es": "el la los las y es no usted su con una del para por gracias",
    "it": "il lo la gli le e non con una del per che sono grazie",
    "nl": "de het een en is niet met u uw van voor wij dank op",
}
WORDS = {lang: set(words.split()) for lang, words in STOPWORDS.items()}


class LanguageDetected(Event):
    """The language a case's document is written in (this agent's own event)."""

    event_type: ClassVar[str] = "LanguageDetected"

    language: str = Field(description="ISO 639-1 code, or 'und' when unsure.")
    confidence: float = Field(ge=0.0, le=1.0)


def detect(text: str) -> tuple[str, float]:
    """The language whose common words the text uses most, with the share of hits."""
    hits: Counter[str] = Counter()
    for word in re.findall(r"[a-zà-ÿ]+", text.lower()):
        for lang, words in WORDS.items():
            if word in words:
                hits[lang] += 1
    if not hits:
        return "und", 0.0
    lang, count = hits.most_common(1)[0]
    return lang, round(count / sum(hits.values()), 3)


class LanguageHandler:
    def __init__(self, context: AgentContext) -> None:
        self._context = context

    takes = "CaseSubmitted"

    def accepts(self, event: Event) -> bool:
        return isinstance(event, CaseSubmitted)

    def key(self, event: Event) -> str:
        return event.event_id

    async def handle(self, event: Event) -> Sequence[Emit]:
        assert isinstance(event, CaseSubmitted)
        task = TaskRequested(  # document_text reads a task's document
            case_id=event.case_id,
            correlation_id=event.correlation_id,
            occurred_at=event.occurred_at,
            producer=self._context.producer,
            task_id=event.event_id,
            step="language",
            capability="language",
            attempt=1,
            input=TaskInput(document=event.document),
            deadline=event.occurred_at,
        )
        language, confidence = detect(await document_text(self._context, task))
        detected = LanguageDetected(
            case_id=event.case_id,
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            occurred_at=self._context.clock(),
            producer=self._context.producer,
            language=language,
            confidence=confidence,
        )
        return (Emit(TOPIC, detected),)

    def failed(self, event: Event, error: BaseException, attempts: int) -> Sequence[Emit]:
        return ()


def build(context: AgentContext) -> Handler:
    return LanguageHandler(context)


AGENT = AgentSpec(
    name="language",
    topics=(INTAKE.name,),
    build=build,
    own_topics=(TOPIC,),
    own_events=(LanguageDetected,),
    description="detects the document language (example of a new consumer)",
)
