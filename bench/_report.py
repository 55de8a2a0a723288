"""What every benchmark records about its run, and where its JSON goes."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console

RESULTS = Path(__file__).parent / "results"


def run_info(**extra: Any) -> dict[str, Any]:
    """The start of a benchmark's JSON: the machine and its load, then `extra`."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        **extra,
    }


def save(out: dict[str, Any], name: str, console: Console) -> Path:
    """Write `out` (with the load average after the run) to bench/results/NAME.json."""
    out["load_avg_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2))
    console.print(f"wrote {path}  (load average before/after: {out['load_avg']} {os.getloadavg()})")
    return path
