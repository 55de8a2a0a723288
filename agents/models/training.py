"""Train the offline models from ``data/`` and write their held-out metrics.

    .venv/bin/python -m agents.models train [classifier|extractor|scorer|all] [--seed N]
                                            [--no-write]

This is what ``caseyard train`` runs. Training is deterministic for a seed, so rerunning it
reproduces ``data/*/metrics.json`` byte for byte, with the calibrations and the classifier's
held-out answers (``data/classifier/held_out.jsonl``, from which its metrics follow); the
models themselves are not committed (see `Classifier.load`). The classifier and the
extractor are measured on the real documents of ``data/real`` held out by source
(`agents.models.evaluation`); the extractor
learns only what its rules' confidences mean, from its development sources
(``data/extractor/calibration.json``), and is measured on the others.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from agents.errors import ModelError
from agents.models import _data, evaluation
from agents.models import classifier as classifier_model
from agents.models import extractor as extractor_model
from agents.models import scorer as scorer_model

__all__ = ["main", "measure_extractor", "train_classifier", "train_scorer"]


def train_classifier(
    seed: int = classifier_model.DEFAULT_SEED,
    write: bool = True,
    feedback: Path | None = None,
    real: Path | None = None,
) -> str:
    """Train and evaluate the classifier (with people's `feedback`, if given: trained on,
    never measured on), measured held out by source on the labelled documents in `real`
    (a corpus as ``data/real/corpus.jsonl``, by default that one: each source predicted by
    a model trained on the generated corpus and the others); returns the metrics as JSON.

    Raises:
        ModelError: If `real` cannot be read or holds documents of fewer than two sources
            (none can be held out), or if `write` is asked with documents other than
            data/real's (the shipped metrics and calibration are data/real's).
    """
    docs = evaluation.load_real(real or _data.REAL_CORPUS)
    if real is not None:
        if write:
            raise ModelError(f"{real}: the metrics of one's own documents are not written to data/")
        if len({d.source for d in docs}) < 2:
            raise ModelError(
                f"{real}: documents of at least two sources are needed to hold one out"
            )
    _, metrics = classifier_model.train(
        _data.CLASSIFIER_CORPUS,
        seed,
        _data.CLASSIFIER_METRICS if write else None,
        real=docs,
        feedback=classifier_model.load_feedback(feedback) if feedback is not None else (),
        calibration_path=_data.CLASSIFIER_CALIBRATION if write else None,
        answers_path=_data.CLASSIFIER_HELD_OUT if write else None,
    )
    return metrics.to_json()


def measure_extractor(seed: int = 0, write: bool = True) -> str:
    """Fit the extractor's confidence calibration on the development sources, then measure
    its fields and their confidence on the real documents with ground truth; returns the
    metrics as JSON (`seed` is unused: the extractor has no randomness)."""
    del seed
    real = [d for d in evaluation.load_real() if d.fields]
    development = evaluation.EXTRACTOR_DEVELOPMENT_SOURCES
    groups = {
        "held_out": [d for d in real if d.source not in development],
        "development": [d for d in real if d.source in development],
    }
    # The rules' own answers, extracted once: calibration changes only their confidence.
    answers = {
        name: evaluation.field_answers(docs, extractor_model.extract_raw)
        for name, docs in groups.items()
    }
    calibration = extractor_model.Calibration.fit(answers["development"])
    body: dict[str, object] = {"model": extractor_model.MODEL_NAME}
    for name, docs in groups.items():
        scores = evaluation.fields_by_source(docs, extractor_model.extract_raw)
        calibrated = [(f, calibration.confidence(f, c), ok) for f, c, ok in answers[name]]
        body[name] = {
            "documents": len(docs),
            "sources": sorted({d.source for d in docs}),
            "fields": {field: asdict(s) for field, s in scores.items()},
            "confidence": {
                "rules": asdict(evaluation.field_confidence(answers[name])),
                "calibrated": asdict(evaluation.field_confidence(calibrated)),
            },
        }
    text = json.dumps(body, indent=2, sort_keys=True) + "\n"
    if write:
        _data.EXTRACTOR_METRICS.parent.mkdir(parents=True, exist_ok=True)
        _data.EXTRACTOR_METRICS.write_text(text, encoding="utf-8")
        _data.EXTRACTOR_CALIBRATION.write_text(calibration.to_json(), encoding="utf-8")
    return text


def train_scorer(seed: int = scorer_model.DEFAULT_SEED, write: bool = True) -> str:
    """Train and evaluate the scorer; returns the metrics as JSON."""
    _, metrics = scorer_model.train(
        _data.SCORER_EVENTS, seed, _data.SCORER_METRICS if write else None
    )
    return metrics.to_json()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m agents.models", description=__doc__)
    parser.add_argument("command", choices=["train"])
    parser.add_argument(
        "model", nargs="?", default="all", choices=["classifier", "extractor", "scorer", "all"]
    )
    parser.add_argument("--seed", type=int, default=classifier_model.DEFAULT_SEED)
    parser.add_argument("--no-write", action="store_true", help="do not update metrics files")
    args = parser.parse_args(argv)
    jobs = {"classifier": train_classifier, "extractor": measure_extractor, "scorer": train_scorer}
    chosen = list(jobs) if args.model == "all" else [args.model]
    for name in chosen:
        started = time.perf_counter()
        metrics = json.loads(jobs[name](args.seed, not args.no_write))
        elapsed = time.perf_counter() - started
        summary = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
        sys.stdout.write(f"{name}: trained in {elapsed:.1f}s {json.dumps(summary)}\n")
    return 0
