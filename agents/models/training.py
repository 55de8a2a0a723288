"""Train the offline models from ``data/`` and write their held-out metrics.

    .venv/bin/python -m agents.models train [classifier|scorer|all] [--seed N] [--no-write]

This is what ``caseyard train classifier`` runs. Training is deterministic for a seed, so
rerunning it reproduces ``data/classifier/metrics.json`` and ``data/scorer/metrics.json``
byte for byte; the models themselves are not committed (see `Classifier.load`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from agents.models import _data
from agents.models import classifier as classifier_model
from agents.models import scorer as scorer_model

__all__ = ["main", "train_classifier", "train_scorer"]


def train_classifier(seed: int = classifier_model.DEFAULT_SEED, write: bool = True) -> str:
    """Train and evaluate the classifier; returns the metrics as JSON."""
    _, metrics = classifier_model.train(
        _data.CLASSIFIER_CORPUS, seed, _data.CLASSIFIER_METRICS if write else None
    )
    return metrics.to_json()


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
    parser.add_argument("model", nargs="?", default="all", choices=["classifier", "scorer", "all"])
    parser.add_argument("--seed", type=int, default=classifier_model.DEFAULT_SEED)
    parser.add_argument("--no-write", action="store_true", help="do not update metrics files")
    args = parser.parse_args(argv)
    jobs = {"classifier": train_classifier, "scorer": train_scorer}
    chosen = list(jobs) if args.model == "all" else [args.model]
    for name in chosen:
        started = time.perf_counter()
        metrics = json.loads(jobs[name](args.seed, not args.no_write))
        elapsed = time.perf_counter() - started
        summary = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
        sys.stdout.write(f"{name}: trained in {elapsed:.1f}s {json.dumps(summary)}\n")
    return 0
