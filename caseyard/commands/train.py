"""`caseyard train classifier|scorer|all`: retrain the offline models from data/."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        model: Annotated[str, typer.Argument(help="classifier, scorer or all")] = "all",
        seed: Annotated[
            int, typer.Option(help="Random seed; the default reproduces data/*/metrics.json.")
        ] = 20260312,
        write: Annotated[
            bool, typer.Option(help="Write the held-out metrics to data/<model>/metrics.json.")
        ] = True,
    ) -> None:
        """Train a model on the labeled data in data/ and print its held-out metrics.

        Example: caseyard train classifier
        """
        from agents.models.training import train_classifier, train_scorer
        from caseyard.cli import console
        from caseyard.errors import ConfigError

        trainers = {"classifier": train_classifier, "scorer": train_scorer}
        if model not in (*trainers, "all"):
            raise ConfigError(f"unknown model {model!r}: use classifier, scorer or all")
        chosen = list(trainers) if model == "all" else [model]
        columns = (SpinnerColumn(), *Progress.get_default_columns(), TimeElapsedColumn())
        for n, name in enumerate(chosen):
            with Progress(*columns, console=console, transient=True) as progress:
                progress.add_task(f"training {name}", total=len(chosen), completed=n)
                metrics = json.loads(trainers[name](seed=seed, write=write))
            table = Table("metric", "value", title=f"{name} (held-out split, seed {seed})")
            for key, value in metrics.items():
                if isinstance(value, (int, float, str)):
                    table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
            console.print(table)
