"""Pipeline definitions: the shipped ones load; every invalid one says file, step and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from caseyard.errors import ConfigError
from coordinator import (
    BackoffKind,
    Join,
    PipelineCatalog,
    PipelineError,
    RetryPolicy,
    load_pipeline,
    parse_pipeline,
)
from tests.unit.coordinator.coord_support import PIPELINES_DIR


def test_shipped_pipelines_load() -> None:
    catalog = PipelineCatalog.load(PIPELINES_DIR)
    assert {(p.name, p.version) for p in catalog} == {
        ("document-intake", 1),
        ("document-intake", 2),
        ("document-intake", 3),
        ("document-intake", 4),
        ("fraud-alert", 1),
        ("invoice-vendor-check", 1),
    }
    assert catalog.default == "document-intake"
    intake = catalog.get("document-intake")
    assert intake is not None
    assert intake.plan.order == ("classify", "extract", "triage", "score", "respond")
    assert intake.plan.groups["analyse"].join is Join.ALL
    assert intake.plan.nodes["retract"].compensates == "respond"
    assert intake.plan.nodes["respond"].redact == ("iban", "account_number", "card_number")
    assert intake.plan.nodes["classify"].models == ("local/*",)
    fraud = catalog.get("fraud-alert")
    assert fraud is not None
    assert fraud.plan.escalations["above-threshold"][1].chain == ("fraud-senior", "fraud-oncall")
    assert fraud.plan.nodes["undo-respond"].capability == "respond"


BASE = """
name: p
version: 1
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify]}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  - {id: score, capability: score, after: [extrct]}",
            "step 'score': after: unknown step 'extrct' (did you mean 'extract'?)",
        ),
        (
            "  - {id: score, capability: score, afer: [extract]}",
            "step 'score': afer: unknown field",
        ),
        (
            "  - {id: score, capability: Score}",
            "step 'score': capability: String should match pattern",
        ),
        (
            "  - {id: score, capability: score, timeout: soon}",
            "step 'score': timeout: expected a duration like '30s', '5m' or '2h', got 'soon'",
        ),
        (
            "  - {id: score, capability: score, timeout: 0s}",
            "step 'score': timeout: a duration must be more than zero",
        ),
        (
            "  - {id: score, capability: score, retry: {max_attempts: 0}}",
            "step 'score': retry.max_attempts: Input should be greater than or equal to 1",
        ),
        (
            "  - {id: score, capability: score, retry: {initial_delay: 5s, max_delay: 1s}}",
            "step 'score': retry: max_delay is shorter than initial_delay",
        ),
        (
            "  - {id: score, capability: score, retry: {backoff: linear}}",
            "step 'score': retry.backoff: Input should be 'fixed' or 'exponential'",
        ),
        (
            "  - {id: extract, capability: score}",
            "step 'extract': id: 'extract' is already used by step 'extract'",
        ),
        (
            "  - {id: score, capability: score, after: [score]}",
            "step 'score': after: a step cannot come after itself",
        ),
        (
            "  - {id: score, capability: score, when: 'steps.classify.doc_type =='}",
            "step 'score': when: invalid expression 'steps.classify.doc_type ==': invalid syntax",
        ),
        (
            "  - {id: score, capability: score, when: 'steps.classify.__class__'}",
            "step 'score': when: invalid expression 'steps.classify.__class__': "
            "access to '__class__' is not allowed",
        ),
        (
            "  - {id: score, capability: score, after: [extract], when: 'steps.clasify.x'}",
            "step 'score': when: unknown step 'clasify' (did you mean 'classify'?)",
        ),
        (
            "  - {id: score, capability: score, when: 'steps.extract.fields'}",
            "step 'score': when: step 'extract' has not run before 'score' (add it to after)",
        ),
        (
            "  - {id: score, capability: score, inputs: [extract]}",
            "step 'score': inputs: extract: 'extract' does not come before 'score'",
        ),
        (
            "  - {id: score, capability: score, after: [extract], inputs: {x: nope}}",
            "step 'score': inputs: x: unknown step 'nope'",
        ),
        (
            "  - id: score\n    capability: score\n    escalate: [{id: e, queue: q}]",
            "step 'score': escalate 'e': reason: required field is missing",
        ),
        (
            "  - id: score\n    capability: score\n    escalate:\n"
            "      - {id: e, queue: q, reason: r, on_edit: {patch: extract}}",
            "step 'score': escalate 'e': on_edit.patch: 'extract' is not 'score' or before it",
        ),
        (
            "  - id: score\n    capability: score\n    after: [extract]\n    escalate:\n"
            "      - {id: e, queue: q, reason: r, sla: 1h, evidence: [respond]}",
            "step 'score': escalate 'e': evidence: 'respond' is not 'score' or before it",
        ),
        (
            "  - id: score\n    capability: score\n    escalate:\n"
            "      - {id: e, queue: Q!, reason: r}",
            "step 'score': escalate 'e': queue: String should match pattern",
        ),
    ],
)
def test_step_errors_name_file_step_and_field(extra: str, message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(BASE + extra + "\n", "pipelines/x.yaml")
    assert str(caught.value).startswith(f"pipelines/x.yaml: {message}")
    assert isinstance(caught.value, ConfigError)
    assert "\n" not in str(caught.value)


def test_cycles_are_named() -> None:
    text = """
name: p
version: 1
steps:
  - {id: a, capability: classify, after: [c]}
  - {id: b, capability: extract, after: [a]}
  - {id: c, capability: score, after: [b]}
"""
    with pytest.raises(
        PipelineError, match=r"x.yaml: step 'a': after: dependency cycle a -> c -> b -> a"
    ):
        parse_pipeline(text, "x.yaml")


GROUPS = """
name: p
version: 1
steps:
  - {{id: a, capability: classify}}
  - {{id: b, capability: extract, after: [a]}}
  - {{id: c, capability: score, after: [a]}}
  - {{id: d, capability: respond, after: [{after}]}}
parallel:
  - {group}
"""


@pytest.mark.parametrize(
    ("after", "group", "message"),
    [
        ("g", "{id: g, steps: [b, x]}", "parallel group 'g': steps: unknown step 'x'"),
        ("g", "{id: g, steps: [b]}", "parallel group 'g': steps: Tuple should have at least 2"),
        ("g", "{id: g, steps: [b, c], join: quorum}", "parallel group 'g': join: quorum needs"),
        (
            "g",
            "{id: g, steps: [b, c], join: quorum, quorum: 3}",
            "parallel group 'g': quorum 3 is more than the group's steps",
        ),
        ("g", "{id: g, steps: [b, c], join: most}", "parallel group 'g': join: Input should be"),
        (
            "b",
            "{id: g, steps: [b, c], join: first}",
            "step 'd': after: 'b' is in parallel group 'g' (join: first); come after the group",
        ),
        ("g", "{id: g, steps: [a, b]}", "parallel group 'g': steps: 'b' comes after 'a'"),
        ("g", "{id: a, steps: [b, c]}", "parallel group 'a': id: 'a' is already used by step 'a'"),
    ],
)
def test_group_errors(after: str, group: str, message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(GROUPS.format(after=after, group=group), "g.yaml")
    assert str(caught.value).startswith(f"g.yaml: {message}")


POLICIES = BASE + "policies:\n  - POLICY\n"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            "{id: x, kind: magic}",
            "policy 'x': kind: unknown kind 'magic' (expected 'allow', 'deny', 'redact'",
        ),
        ("{id: x, kind: deny, when: 'true', reason: r, steps: [nope]}", "policy 'x': when"),
        (
            "{id: x, kind: deny, when: 'True', reason: r, steps: [nope]}",
            "policy 'x': steps: unknown step 'nope'",
        ),
        (
            "{id: x, kind: deny, when: steps.classify.doc_type == 'x', reason: r}",
            "policy 'x': when: step 'classify' has not run before step 'classify'",
        ),
        (
            "{id: x, kind: deny, reason: r, when: 'True', at: during}",
            "policy 'x': at: Input should be",
        ),
        ("{id: x, kind: budget}", "policy 'x': a budget needs max_cost_usd or max_latency_ms"),
        (
            "{id: x, kind: budget, max_cost_usd: 1, on_exceed: escalate}",
            "policy 'x': on_exceed: escalate needs a queue",
        ),
        ("{id: x, kind: redact, fields: []}", "policy 'x': fields: Tuple should have at least 1"),
        (
            "{id: classify, kind: models, allow: [a]}",
            "policy 'classify': id: 'classify' is already",
        ),
    ],
)
def test_policy_errors(policy: str, message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(POLICIES.replace("POLICY", policy), "p.yaml")
    assert str(caught.value).startswith(f"p.yaml: {message}")


def test_two_models_rules_for_one_step_are_refused() -> None:
    text = BASE + (
        "policies:\n"
        "  - {id: m1, kind: models, allow: [a]}\n"
        "  - {id: m2, kind: models, steps: [extract], allow: [b]}\n"
    )
    with pytest.raises(
        PipelineError, match="policy 'm2': step 'extract' already has the models rule 'm1'"
    ):
        parse_pipeline(text, "p.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [", "x.yaml: invalid YAML at line 1"),
        ("- a\n- b\n", "x.yaml: expected a mapping"),
        ("name: p\nsteps: []", "x.yaml: version: required field is missing"),
        (
            "name: P\nversion: 1\nsteps: [{id: a, capability: x}]",
            "x.yaml: name: String should match",
        ),
    ],
)
def test_document_errors(text: str, message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(text, "x.yaml")
    assert str(caught.value).startswith(message)


def test_all_problems_are_kept() -> None:
    text = """
name: p
version: 1
steps:
  - {id: a, capability: classify, after: [x]}
  - {id: b, capability: classify, after: [y]}
"""
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(text, "x.yaml")
    assert str(caught.value).endswith("(and 1 more)")
    assert caught.value.problems == (
        "x.yaml: step 'a': after: unknown step 'x'",
        "x.yaml: step 'b': after: unknown step 'y'",
    )


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def one_step(name: str, version: int, default: bool = False) -> str:
    flag = "default: true\n" if default else ""
    return f"name: {name}\nversion: {version}\n{flag}steps: [{{id: a, capability: classify}}]\n"


def test_catalog_maps_versions_and_new_cases_get_the_latest(tmp_path: Path) -> None:
    write(tmp_path, "a-v1.yaml", one_step("a", 1))
    write(tmp_path, "a-v2.yml", one_step("a", 2))
    write(tmp_path, "b.yaml", one_step("b", 1, default=True))
    write(tmp_path, "notes.txt", "not a pipeline")
    catalog = PipelineCatalog.load(tmp_path)
    assert len(catalog) == 3
    assert catalog.versions("a") == (1, 2)
    assert catalog.default == "b"
    assert catalog.select(None) is catalog.get("b", 1)
    latest = catalog.select("a")
    assert latest is not None and latest.version == 2
    pinned = catalog.select("a@1")
    assert pinned is not None and pinned.version == 1
    assert catalog.select("a@3") is None
    assert catalog.get("c") is None
    assert PipelineCatalog.load(tmp_path, default="a").default == "a"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no pipeline files"),
        (
            {"x.yaml": one_step("a", 1), "y.yaml": one_step("a", 1)},
            "y.yaml: pipeline 'a' version 1 is also defined in",
        ),
        (
            {"x.yaml": one_step("a", 1, True), "y.yaml": one_step("b", 1, True)},
            "several pipelines say 'default: true': a, b",
        ),
        (
            {"x.yaml": "name: a\nversion: 1\nsteps: []\n"},
            "x.yaml: steps: Tuple should have at least 1",
        ),
    ],
)
def test_catalog_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(PipelineError, match=message):
        PipelineCatalog.load(tmp_path)


def test_catalog_errors_for_paths(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="not a directory"):
        PipelineCatalog.load(tmp_path / "missing")
    with pytest.raises(PipelineError, match="cannot read"):
        load_pipeline(tmp_path / "missing.yaml")
    with pytest.raises(PipelineError, match="default pipeline 'zzz' is not loaded"):
        PipelineCatalog([], default="zzz")


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        (RetryPolicy(backoff=BackoffKind.FIXED, initial_delay=timedelta(seconds=3)), [3, 3, 3, 3]),
        (
            RetryPolicy(initial_delay=timedelta(seconds=1), max_delay=timedelta(seconds=5)),
            [1, 2, 4, 5],
        ),
        (
            RetryPolicy(
                initial_delay=timedelta(seconds=1), max_delay=timedelta(minutes=1), multiplier=3
            ),
            [1, 3, 9, 27],
        ),
    ],
)
def test_retry_delays(policy: RetryPolicy, delays: list[int]) -> None:
    assert [policy.delay(n).total_seconds() for n in range(1, 5)] == delays


def test_retry_delay_stays_capped_for_late_attempts() -> None:
    policy = RetryPolicy(max_attempts=100, multiplier=10, max_delay=timedelta(hours=1))
    assert policy.delay(99) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1.5s", 1.5),
        ("45", 45),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    value = text if not text.isdigit() else int(text)
    pipeline = parse_pipeline(
        f"name: p\nversion: 1\nsteps: [{{id: a, capability: classify, timeout: {value!r}}}]"
    )
    assert pipeline.steps[0].timeout == timedelta(seconds=seconds)


def test_pipelines_are_frozen() -> None:
    pipeline = parse_pipeline(BASE)
    with pytest.raises(ValueError, match="frozen"):
        pipeline.version = 2  # type: ignore[misc]
