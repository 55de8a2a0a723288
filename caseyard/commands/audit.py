"""`caseyard audit verify|export|keygen`: prove the case event log is intact; export one
case's audit report (`caseyard.audit_report`); make a key to sign checkpoints with.

`verify` reads the signed checkpoints (`schemas.audit`) first, then the case events, and
checks each chain link by link and against the last head a checkpoint signed for it, so
an edit, a removal (middle, tail, a whole case), a reordering, a removed or changed
checkpoint and a forged one are each named. Reads stop with an error when the log stops
short of its end (`bus.read_to_end`), and the whole run is bounded by `--timeout`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import anyio
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bus import Record, read_to_end
from caseyard.app import App, decode_records, read_records, topic_partitions
from caseyard.audit_report import ReportFormat, build_report, render
from caseyard.commands._run import run
from caseyard.errors import ConfigError
from coordinator import Break, Link, Signed, verify_chain, verify_heads
from schemas import CaseEvent, DecodeError, Event
from schemas.audit import (
    AuditKeyError,
    ChainCheckpoint,
    Signer,
    key_id,
    load_public_key,
    public_path,
    public_pem,
)
from schemas.topology import AUDIT, CASE_EVENTS, HUMAN, INTAKE, RESULTS

VERIFY_TIMEOUT_S = 600.0

PublicKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="A public key (PEM) the checkpoints may be signed with; repeat for rotated "
        "keys. Default: the .pub beside the configured signing key.",
    ),
]


def chains(
    decoded: Sequence[tuple[Record, Event]], broken: Sequence[tuple[Record, DecodeError]]
) -> tuple[dict[str, list[Link]], list[Break]]:
    """Each case's case events in log order, and a break for each record that does not
    decode, from the records of the case-events topic."""
    cases: dict[str, list[Link]] = {}
    for record, event in decoded:
        if isinstance(event, CaseEvent):
            cases.setdefault(event.case_id, []).append(Link(_where(record), event))
    breaks = [
        Break(
            (r.key or b"").decode(errors="replace"),
            _where(r),
            f"does not decode (changed): {exc}",
        )
        for r, exc in broken
    ]
    return cases, breaks


async def read_decoded(
    app: App, topic: str, case_id: str | None
) -> tuple[list[tuple[Record, Event]], list[tuple[Record, DecodeError]]]:
    return await decode_records(app, await read_records(app, topic, case_id=case_id))


def _where(record: Record) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


async def read_checkpoints(app: App, case_id: str | None) -> tuple[list[Signed], list[Break]]:
    """The checkpoints of every partition (or of the case's), in log order; a break for
    each record that is not one."""
    signed: list[Signed] = []
    breaks: list[Break] = []
    tps = await topic_partitions(app.bus, AUDIT.name, case_id=case_id)
    async for batch in read_to_end(app.bus, tps):
        for record in batch:
            try:
                signed.append(Signed(_where(record), ChainCheckpoint.from_bytes(record.value)))
            except ValueError as exc:
                problem = str(exc).splitlines()[0]
                breaks.append(
                    Break(None, _where(record), f"is not a checkpoint (changed): {problem}")
                )
    return signed, breaks


def trusted_keys(files: Sequence[Path], default: Path) -> dict[str, Ed25519PublicKey] | None:
    """The public keys given, by key id; else the public key of the configured signing key
    if there is one; else None (signatures are not checked)."""
    if not files:
        if not public_path(default).exists():
            return None
        files = [public_path(default)]
    keys = {}
    for file in files:
        try:
            public = load_public_key(file)
        except AuditKeyError as exc:
            raise ConfigError(str(exc)) from exc
        keys[key_id(public)] = public
    return keys


def register(app: typer.Typer) -> None:
    audit = typer.Typer(help="Audit the case event log.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def verify(
        case_id: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
        public_keys: PublicKeys = None,
        timeout: Annotated[
            float, typer.Option("--timeout", help="Give up after this many seconds.")
        ] = VERIFY_TIMEOUT_S,
    ) -> None:
        """Check each case's hash chain and the signed checkpoints; name every changed,
        removed, reordered or forged record, and every case or tail missing.

        Example: caseyard audit verify --case case-0192f3a8c2d1 --public-key audit.pem.pub
        """
        from caseyard.app import open_app
        from caseyard.cli import console, existing_settings
        from caseyard.errors import AuditFailed

        config = existing_settings()
        keys = trusted_keys(public_keys or [], config.audit_key_path)

        async def body() -> None:
            with anyio.move_on_after(timeout) as scope:
                async with open_app(config) as app:
                    # Checkpoints first: every head they sign is in the case events read after.
                    checkpoints, breaks = await read_checkpoints(app, case_id)
                    cases, unreadable = chains(*await read_decoded(app, CASE_EVENTS.name, case_id))
            if scope.cancelled_caught:
                raise ConfigError(f"audit verify did not finish within --timeout {timeout:g} s")
            breaks += unreadable
            breaks += [b for c, links in cases.items() for b in verify_chain(c, links)]
            breaks += verify_heads(cases, checkpoints, keys, only=case_id)
            for problem in breaks:
                console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
            checked = sum(len(links) for links in cases.values())
            signatures = (
                f"signatures checked with key(s) {', '.join(sorted(keys))}"
                if keys is not None
                else "signatures NOT checked (no public key: pass --public-key)"
            )
            if breaks:
                raise AuditFailed(
                    f"{len(breaks)} break(s) ({checked} records and {len(checkpoints)} "
                    f"checkpoints checked; {signatures})"
                )
            console.print(
                f"intact: {checked} records of {len(cases)} case(s), {len(checkpoints)} "
                f"checkpoint(s); {signatures}",
                soft_wrap=True,
            )

        run(body)

    @audit.command("keygen")
    def keygen(
        out: Annotated[Path, typer.Argument(help="Where to write the private key (PEM).")],
    ) -> None:
        """Make an Ed25519 key to sign audit checkpoints with (set CASEYARD_AUDIT_KEY to it
        on every coordinator); its public key, for auditors, is written beside it (.pub).

        Example: caseyard audit keygen /etc/caseyard/audit.pem
        """
        from caseyard.cli import console

        if out.exists():
            raise ConfigError(f"{out} exists: not overwriting a key")
        try:
            signer = Signer.generate(out)
        except OSError as exc:
            raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from exc
        console.print(f"wrote {out} and {public_path(out)} (key id {signer.key_id})")

    @audit.command("export")
    def export(
        case_id: Annotated[str, typer.Option("--case", help="The case to report on.")],
        public_keys: PublicKeys = None,
        fmt: Annotated[
            ReportFormat, typer.Option("--format", help="json, or html (one self-contained file).")
        ] = ReportFormat.HTML,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
    ) -> None:
        """Export one case's audit report: timeline, policy and human decisions, models used
        and their cost, and whether its hash chain verifies.

        Example: caseyard audit export --case case-0192f3a8c2d1 --format html -o case.html
        """
        from caseyard.app import open_app
        from caseyard.cli import console, existing_settings

        config = existing_settings()
        keys = trusted_keys(public_keys or [], config.audit_key_path)

        async def body() -> None:
            records: list[tuple[str, Event]] = []
            unreadable: list[str] = []
            async with open_app(config) as app:
                checkpoints, bad = await read_checkpoints(app, case_id)
                decoded, broken = await read_decoded(app, CASE_EVENTS.name, case_id)
                cases, breaks = chains(decoded, broken)
                records += [(_where(r), e) for r, e in decoded]
                for topic in (INTAKE.name, RESULTS.name, HUMAN.name):
                    decoded, broken = await read_decoded(app, topic, case_id)
                    records += [(_where(r), e) for r, e in decoded]
                    unreadable += [f"{_where(r)}: {e}" for r, e in broken]
            links = cases.get(case_id, [])
            mine = [b for b in breaks if b.case_id == case_id]
            if not links and not mine:
                raise ConfigError(f"no case {case_id!r} in the case-events log")
            heads = verify_heads(cases, checkpoints, keys, only=case_id)
            naming = [c for c in checkpoints if case_id in {h.case_id for h in c.checkpoint.heads}]
            last = naming[-1] if naming else None
            key = (keys or {}).get(last.checkpoint.key_id or "") if last else None
            report = build_report(
                case_id,
                links,
                records,
                [*mine, *verify_chain(case_id, links), *bad, *heads],
                unreadable,
                datetime.now(UTC),
                checkpoint=last,
                public_key=public_pem(key).decode() if key else None,
            )
            text = render(report, fmt)
            if output is None:
                sys.stdout.write(text)
                return
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from exc
            console.print(
                f"wrote {output} ({fmt.value}, {len(report.timeline)} events, chain "
                f"{'intact' if report.chain.intact else 'broken'})",
                soft_wrap=True,
            )

        run(body)
