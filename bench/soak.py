"""Soak: `caseyard up` fed documents continuously; its memory over time (issue 11).

`caseyard up` (coordinator, the four agents and the inbox in one process) runs on an
embedded bus in a temporary directory (or on `--bus`); this process submits the sample documents of
`examples/documents` round and round at a steady rate, and a reviewer works the inbox
as people would (every REVIEW_EVERY_S seconds it claims and approves the open human
tasks over the inbox API), so escalated cases end too and the open work stays level. The
RSS of `caseyard up` (from /proc) is sampled every SAMPLE_S seconds, with the cases
submitted and the tasks decided so far.
Memory is flat after warm-up when the RSS grew by less than 1% over the last 20 minutes
(the issue's bar; with a shorter run, over its last two thirds). The inbox keeps the open
work and a window of the latest ended cases; the soak makes that window 150 cases
(`--inbox-window`; default 1,000, which at 0.5 documents/s takes ~33 minutes to fill), so it
is full within the warm-up (at ~minute 6; 300 filled at ~minute 11, inside the measured
window) and what grows after is not a cache filling.

    python -m bench.soak [--minutes 30] [--rate 0.5] [--inbox-window 150]
        [--bus kafka://127.0.0.1:19092]

`--bus` soaks on Kafka instead (the broker's topics and the coordinator group are shared
with whatever else uses it: give it a broker of its own).

Prints the table, writes bench/results/soak.json and bench/results/soak.svg (RSS over
time; soak-kafka.* with `--bus`).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from rich.console import Console
from rich.table import Table

from bench._report import RESULTS, run_info, save
from caseyard.app import MEDIA_TYPES, open_app, submit
from caseyard.inbox.auth import Role, UserStore
from caseyard.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CASEYARD = str(Path(sys.executable).parent / "caseyard")
SAMPLE_S = 30.0
REVIEW_EVERY_S = 5.0
FLAT = 0.01


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_up(
    tmp: str, bus: str | None, inbox_window: int
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`caseyard up` on `bus` (default: an embedded bus in `tmp`), logging to tmp/up.log."""
    env = {
        **os.environ,
        "CASEYARD_INBOX_KEEP_ENDED_CASES": str(inbox_window),
        "CASEYARD_BUS": bus or f"sqlite:///{tmp}/bus.db",
        "CASEYARD_DATA_DIR": f"{tmp}/data",
        "CASEYARD_INBOX_PORT": str(free_port()),
        "CASEYARD_LOG_LEVEL": "WARNING",
    }
    with open(f"{tmp}/up.log", "wb") as log:
        up = subprocess.Popen([CASEYARD, "up"], env=env, cwd=ROOT, stdout=log, stderr=log)
    return up, env


async def feed(
    up: subprocess.Popen[bytes], env: dict[str, str], minutes: float, rate: float, console: Console
) -> list[dict[str, float]]:
    """Submit documents at `rate` per second for `minutes`, sampling up's RSS."""
    documents = sorted(
        p for p in (ROOT / "examples" / "documents").iterdir() if p.suffix.lower() in MEDIA_TYPES
    )
    settings = load_settings(bus=env["CASEYARD_BUS"], data_dir=Path(env["CASEYARD_DATA_DIR"]))
    users = UserStore(settings.inbox_users_path)
    users.add_user("soak", Role.SUPERVISOR, (), "soak-password-not-used")
    token = users.add_token("soak")
    decided = [0]
    samples: list[dict[str, float]] = []
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        tg.start_soon(review, int(env["CASEYARD_INBOX_PORT"]), token, decided)
        began = next_sample = time.monotonic()
        submitted = 0
        while (now := time.monotonic()) - began < minutes * 60:
            if up.poll() is not None:
                raise RuntimeError(f"caseyard up exited {up.returncode}")
            await submit(app, documents[submitted % len(documents)], source="soak")
            submitted += 1
            if now >= next_sample:
                sample = {"minute": (now - began) / 60, "rss_mib": rss_mib(up.pid)}
                samples.append(sample | {"submitted": submitted, "decided": decided[0]})
                console.print(
                    f"  {sample['minute']:5.1f} min  RSS {sample['rss_mib']:7.1f} MiB"
                    f"  {submitted} submitted  {decided[0]} tasks decided"
                )
                next_sample += SAMPLE_S
            await anyio.sleep(max(0.0, began + submitted / rate - time.monotonic()))
        tg.cancel_scope.cancel()
    return samples


async def review(port: int, token: str, decided: list[int]) -> None:
    """Claim and approve the open human tasks every REVIEW_EVERY_S seconds, as a reviewer
    working the inbox would (reject where approving is refused)."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as client:
        while True:
            await anyio.sleep(REVIEW_EVERY_S)
            try:
                listed = await client.get("/api/tasks")
            except httpx.TransportError:
                continue  # the inbox is not listening yet
            if listed.status_code != 200:
                continue
            for task in listed.json()["tasks"]:
                path = f"/api/tasks/{task['id']}"
                await client.post(f"{path}/claim")
                for action in ("approve", "reject"):
                    answer = await client.post(f"{path}/decision", json={"action": action})
                    if answer.status_code == 200:
                        decided[0] += 1
                        break


def soak(
    minutes: float, rate: float, console: Console, bus: str | None = None, inbox_window: int = 150
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="caseyard-soak-") as tmp:
        up, env = start_up(tmp, bus, inbox_window)
        try:
            samples = anyio.run(feed, up, env, minutes, rate, console)
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
    tail_from = minutes - min(20.0, minutes * 2 / 3)
    tail = [s for s in samples if s["minute"] >= tail_from]
    first, last = tail[0]["rss_mib"], tail[-1]["rss_mib"]
    growth = (last - first) / first if len(tail) > 1 else 0.0
    return {
        "bus": (bus or "sqlite").split(":")[0],
        "minutes": minutes,
        "rate_per_s": rate,
        "inbox_window": inbox_window,
        "samples": samples,
        "growth_from_minute": tail_from,
        "growth": growth,
        "flat": growth < FLAT,
    }


def svg(samples: list[dict[str, float]], width: int = 640, height: int = 240) -> str:
    """RSS over time as one polyline, axes labelled at their ends."""
    xs = [s["minute"] for s in samples]
    ys = [s["rss_mib"] for s in samples]
    x_max, y_min, y_max = max(xs) or 1.0, min(ys) * 0.95, max(ys) * 1.05
    pad = 40

    def point(x: float, y: float) -> str:
        px = pad + (width - 2 * pad) * x / x_max
        py = height - pad - (height - 2 * pad) * (y - y_min) / (y_max - y_min or 1)
        return f"{px:.1f},{py:.1f}"

    line = " ".join(point(x, y) for x, y in zip(xs, ys, strict=True))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<polyline points="{line}" fill="none" stroke="#1f6feb" stroke-width="2"/>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="black"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" '
        f'stroke="black"/>'
        f'<text x="{pad}" y="{height - pad + 15}">0 min</text>'
        f'<text x="{width - pad - 40}" y="{height - pad + 15}">{x_max:.0f} min</text>'
        f'<text x="2" y="{pad}">{y_max:.0f} MiB</text>'
        f'<text x="2" y="{height - pad}">{y_min:.0f} MiB</text>'
        f'<text x="{width / 2 - 80}" y="16">caseyard up: RSS over time</text></svg>\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=0.5, help="documents per second")
    parser.add_argument("--bus", default=None, help="soak on this bus (default: embedded)")
    parser.add_argument(
        "--inbox-window", type=int, default=150, help="ended cases the inbox keeps in memory"
    )
    args = parser.parse_args()
    console = Console()
    result = soak(args.minutes, args.rate, console, args.bus, args.inbox_window)
    table = Table(
        "minute", "RSS MiB", "submitted", "tasks decided", title="caseyard up under a steady feed"
    )
    for s in result["samples"]:
        table.add_row(
            f"{s['minute']:.1f}",
            f"{s['rss_mib']:.1f}",
            str(int(s["submitted"])),
            str(int(s["decided"])),
        )
    console.print(table)
    console.print(
        f"RSS growth from minute {result['growth_from_minute']:.0f} to the end: "
        f"{result['growth'] * 100:+.2f}% ({'flat' if result['flat'] else 'NOT flat'}, "
        f"target < {FLAT * 100:.0f}%)"
    )
    name = "soak" if args.bus is None else "soak-kafka"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.svg").write_text(svg(result["samples"]))
    save(run_info(**vars(args)) | result, name, console)


if __name__ == "__main__":
    main()
