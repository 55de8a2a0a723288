"""The audit chain: a changed, removed or reordered case event is found and named."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from coordinator import Link, Signed, case_event_hash, verify_chain, verify_heads
from schemas import CaseEvent, Producer, StepStarted
from schemas.audit import CaseHead, ChainCheckpoint, Signer, key_id
from schemas.testing import example_events

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chain(n: int = 5) -> list[Link]:
    links: list[Link] = []
    previous: str | None = None
    for i in range(n):
        event = StepStarted(
            case_id="c",
            correlation_id="c",
            occurred_at=T0 + timedelta(seconds=i),
            producer=Producer(service="coordinator", version="1"),
            step=f"step-{i}",
            capability="classify",
            task_id=f"c/step-{i}/1.1",
            attempt=1,
            previous_hash=previous,
        )
        previous = case_event_hash(event)
        links.append(Link(f"log/0/{i}", event))
    return links


def problems(links: list[Link]) -> list[str]:
    return [str(b) for b in verify_chain("c", links)]


def changed(event: CaseEvent) -> CaseEvent:
    return event.model_copy(update={"occurred_at": event.occurred_at + timedelta(hours=1)})


def test_an_intact_chain_verifies() -> None:
    assert problems(chain()) == []


def test_a_changed_record_breaks_the_chain_at_the_next_one() -> None:
    links = chain()
    links[2] = Link(links[2].where, changed(links[2].event))
    assert problems(links) == [
        "case c: log/0/3: does not follow log/0/2: that record was changed, or a record "
        "between them was removed"
    ]


def test_a_removed_record_is_found() -> None:
    links = chain()
    del links[2]
    assert problems(links) == [
        "case c: log/0/3: does not follow log/0/1: that record was changed, or a record "
        "between them was removed"
    ]
    assert problems(chain()[1:]) == ["case c: log/0/1: the records before it are missing (removed)"]


def test_reordered_records_are_named() -> None:
    links = chain()
    links[1], links[2] = links[2], links[1]
    assert problems(links) == [
        "case c: log/0/2: follows log/0/1 in the chain, not the record before it (reordered)",
        "case c: log/0/1: follows log/0/0 in the chain, not the record before it (reordered)",
        "case c: log/0/3: follows log/0/2 in the chain, not the record before it (reordered)",
    ]


# -- signed checkpoints ---------------------------------------------------------------------


def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def checkpoints(links: list[Link], key: Signer | None, partition: int = 0) -> list[Signed]:
    """One checkpoint per event of the chain, as one transaction per event writes them."""
    out: list[Signed] = []
    previous: ChainCheckpoint | None = None
    for n, link in enumerate(links, start=1):
        checkpoint = ChainCheckpoint(
            partition=partition,
            sequence=n,
            previous=previous.digest() if previous else None,
            written_at=T0,
            heads=(CaseHead(case_id="c", events=n, hash=case_event_hash(link.event)),),
        )
        previous = key.sign(checkpoint) if key else checkpoint
        out.append(Signed(f"cp/{partition}/{n - 1}", previous))
    return out


def head_problems(
    links: list[Link], signed: list[Signed], keys: dict[str, Ed25519PublicKey] | None = None
) -> list[str]:
    return [str(b) for b in verify_heads({"c": links} if links else {}, signed, keys)]


def keys_of(key: Signer) -> dict[str, Ed25519PublicKey]:
    return {key_id(key.public_key): key.public_key}


def test_a_chain_at_its_signed_head_verifies() -> None:
    key = signer()
    links = chain()
    assert head_problems(links, checkpoints(links, key), keys_of(key)) == []


def test_a_removed_tail_is_found_by_the_last_signed_head() -> None:
    links = chain()
    signed = checkpoints(links, None)
    assert problems(links[:3]) == []  # the hash chain alone cannot tell
    assert head_problems(links[:3], signed) == [
        "case c: log/0/2: the chain ends here after 3 event(s), but checkpoint 5 (cp/0/4) "
        f"signed its chain at 5 event(s) ending in {case_event_hash(links[4].event)[:12]}: "
        "its tail was removed or rewritten"
    ]


def test_a_removed_case_is_found() -> None:
    signed = checkpoints(chain(), None)
    assert head_problems([], signed) == [
        "case c: cp/0/4: the whole case is missing: checkpoint 5 (cp/0/4) signed its chain at "
        f"5 event(s) ending in {signed[-1].checkpoint.heads[0].hash[:12]}"
    ]


def test_removed_changed_and_reordered_checkpoints_are_found() -> None:
    links = chain()
    signed = checkpoints(links, None)
    assert head_problems(links, [signed[0], *signed[3:]]) == [
        "cp/0/3: checkpoint 4 of partition 0: checkpoints 2 to 3 of the partition are "
        "missing (removed)"
    ]
    edited = signed[1].checkpoint.model_copy(update={"written_at": T0 + timedelta(days=1)})
    assert head_problems(links, [signed[0], Signed("cp/0/1", edited), *signed[2:]]) == [
        "cp/0/2: checkpoint 3 of partition 0 does not follow cp/0/1: that checkpoint was changed"
    ]
    assert head_problems(links, [signed[0], signed[2], signed[1], *signed[3:]])[:2] == [
        "cp/0/2: checkpoint 3 of partition 0: checkpoints 2 to 2 of the partition are missing "
        "(removed)",
        "cp/0/1: checkpoint 2 of partition 0 comes after checkpoint 3 (reordered or repeated)",
    ]


def test_forged_unsigned_and_foreign_checkpoints_are_not_trusted() -> None:
    key, other = signer(), signer()
    links = chain()
    signed = checkpoints(links, key)
    last = signed[-1].checkpoint
    forged = last.model_copy(update={"heads": ()})
    assert head_problems(links, [*signed[:-1], Signed("cp/0/4", forged)], keys_of(key)) == [
        f"cp/0/4: checkpoint 5 of partition 0 has a signature that does not verify with key "
        f"{key.key_id} (forged)"
    ]
    assert head_problems(links, checkpoints(links, None)[:1], keys_of(key)) == [
        "cp/0/0: checkpoint 1 of partition 0 is not signed"
    ]
    assert head_problems(links, checkpoints(links, other)[:1], keys_of(key)) == [
        f"cp/0/0: checkpoint 1 of partition 0 is signed with key {other.key_id}, which is "
        "not among the trusted keys"
    ]


def test_a_signed_checkpoint_verifies_offline_from_its_json() -> None:
    # What an auditor does with the exported JSON and the public key, with no caseyard code
    # but the format: the signature covers the record without its "signature" field.
    key = signer()
    record = json.loads(checkpoints(chain(1), key)[0].checkpoint.to_bytes())
    signature = base64.b64decode(record.pop("signature"))
    payload = json.dumps(record, separators=(",", ":")).encode()
    key.public_key.verify(signature, payload)  # raises if it does not hold


def test_the_hash_is_the_sha256_of_the_type_and_the_events_json_as_documented() -> None:
    # The definition `caseyard audit verify` and any other verifier rely on; the engine
    # computes it from the serializer's bytes directly, which must not change it.
    events = [e for e in example_events() if isinstance(e, CaseEvent)]
    assert len(events) > 10
    for event in events:
        text = f"{event.event_type}\n{event.model_dump_json()}".encode()
        assert case_event_hash(event) == sha256(text).hexdigest(), event.event_type
