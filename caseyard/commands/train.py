"""`caseyard train classifier|extractor|scorer|all`: retrain the offline models from data/
and print how they do on data held out (real documents: held out by source)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        model: Annotated[
            str,
            typer.Argument(
                help="classifier, extractor (its confidence calibration; rules measured), "
                "scorer or all"
            ),
        ] = "all",
        seed: Annotated[
            int, typer.Option(help="Random seed; the default reproduces data/*/metrics.json.")
        ] = 20260312,
        write: Annotated[
            bool, typer.Option(help="Write the held-out metrics to data/<model>/metrics.json.")
        ] = True,
        feedback: Annotated[
            Path | None,
            typer.Option(
                help="Also train the classifier on reviewers' confirmations and corrections "
                "(caseyard feedback export); never measured on."
            ),
        ] = None,
        real: Annotated[
            Path | None,
            typer.Option(
                help="Measure the classifier on these real labelled documents instead of "
                "data/real's, each source held out from a model trained on the generated "
                "corpus and the file's other sources: JSON lines as data/real/corpus.jsonl "
                "(id, source, doc_type, text), two sources at least. Nothing is written to "
                "data/ (implies --no-write); the extractor and the scorer keep their data."
            ),
        ] = None,
    ) -> None:
        """Train a model on the labeled data in data/ and print its held-out metrics.

        Example: caseyard train classifier
        """
        from agents.models.training import measure_extractor, train_classifier, train_scorer
        from caseyard.cli import console
        from caseyard.errors import ConfigError

        trainers: dict[str, Callable[..., str]] = {
            "classifier": partial(train_classifier, feedback=feedback, real=real),
            "extractor": measure_extractor,
            "scorer": train_scorer,
        }
        if model not in (*trainers, "all"):
            raise ConfigError(f"unknown model {model!r}: use classifier, extractor, scorer or all")
        if real is not None and model not in ("classifier", "all"):
            raise ConfigError(f"--real is the classifier's documents, not the {model}'s")
        chosen = list(trainers) if model == "all" else [model]
        columns = (SpinnerColumn(), *Progress.get_default_columns(), TimeElapsedColumn())
        for n, name in enumerate(chosen):
            with Progress(*columns, console=console, transient=True) as progress:
                progress.add_task(f"training {name}", total=len(chosen), completed=n)
                # One's own documents measure, they do not replace data/'s metrics.
                mine = name == "classifier" and real is not None
                metrics = json.loads(trainers[name](seed=seed, write=write and not mine))
            for table in _tables(name, metrics, seed):
                console.print(table)


def _tables(name: str, metrics: dict[str, Any], seed: int) -> list[Table]:
    """The metrics as tables: the scalars, then per type or per field where they exist."""
    from agents.models.evaluation import ESCALATE_BELOW

    title = (
        "held out by source" if "held_out_by_source" in metrics else f"held-out split, seed {seed}"
    )
    if name == "extractor":
        title = "real documents, every source unseen"
    top = Table("metric", "value", title=f"{name} ({title})")
    held = metrics.get("held_out_by_source") or {}
    rows = {**{f"real held out by source: {k}": v for k, v in held.items()}, **metrics}
    for key, label in (
        ("held_out_uncalibrated", "real held out, the model's own probabilities"),
        ("confidence", "confidence calibration shipped"),
        ("synthetic_only_on_real", "real, synthetic-only model"),
    ):
        rows.update({f"{label}: {k}": v for k, v in (metrics.get(key) or {}).items()})
    for key, value in rows.items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            top.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    tables = [top]
    if held.get("per_type"):
        per_type = Table("type", "precision", "recall", "F1", "documents", "sources")
        for doc_type, s in held["per_type"].items():
            per_type.add_row(
                doc_type,
                f"{s['precision']:.3f}",
                f"{s['recall']:.3f}",
                f"{s['f1']:.3f}",
                str(s["support"]),
                str(s["sources"]),
            )
        tables.append(per_type)
    for group, label in (
        ("held_out", "sources never looked at"),
        ("development", "sources the rules were written against"),
    ):
        part = metrics.get(group)
        if not part:
            continue
        fields = Table(
            "field",
            "exact",
            "documents",
            "accuracy",
            title=f"{group.replace('_', ' ')}: {label} ({', '.join(part['sources'])})",
        )
        for field, s in part["fields"].items():
            fields.add_row(field, str(s["exact"]), str(s["documents"]), f"{s['accuracy']:.3f}")
        tables.append(fields)
        confidence = part.get("confidence")
        if confidence:
            trust = Table(
                "confidence",
                "answers",
                "right",
                "mean confidence",
                "calibration error",
                f"wrong below {ESCALATE_BELOW}",
                title=f"{group.replace('_', ' ')}: what the fields' confidence says",
            )
            for kind, c in confidence.items():
                trust.add_row(
                    "as the rules give it" if kind == "rules" else "calibrated",
                    str(c["answers"]),
                    str(c["right"]),
                    f"{c['mean_confidence']:.3f}",
                    f"{c['ece']:.3f}",
                    f"{c['wrong_below_threshold']:.2f}",
                )
            tables.append(trust)
    return tables
