"""`caseyard models report` on a recorded stream whose class mix shifts: the JSON figures,
`--fail-on-drift`, and the HTML page as headless Chromium shows it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from playwright.async_api import expect

from agents.models.classifier import DEFAULT_CORPORA, load_corpus
from agents.runtime import Outcome
from caseyard.models_report import training_mix
from schemas import CaseCompleted, ClassifyOutput, DocType, ModelUsage, TaskRequested
from tests.e2e.test_inbox_browser import browser, chromium  # noqa: F401 (fixture)
from tests.helpers import run_caseyard
from tests.integration.coordinator_harness import cli_harness

pytestmark = pytest.mark.anyio

CALM = 60
"""Documents of the first model version, in its training mix."""
PIPELINE = """
name: intake
version: 1
default: true
steps:
  - {id: classify, capability: classify}
"""


async def test_a_shifting_class_mix_is_reported_as_drift(tmp_path: Path, chromium: Path) -> None:  # noqa: F811
    # First documents in the mix the model was trained on (v1), then a flood of fraud
    # reports (v2, as after a retraining).
    trained = training_mix([d.doc_type for p in DEFAULT_CORPORA for d in load_corpus(p)])
    calm = [DocType(k) for k, share in trained.items() for _ in range(round(share * CALM))]
    kinds = itertools.chain(calm, itertools.repeat(DocType.FRAUD_REPORT))
    served = itertools.count()

    async def classify(task: TaskRequested) -> Outcome:
        first = next(served) < len(calm)
        output = ClassifyOutput(doc_type=next(kinds), confidence=0.9 if first else 0.55)
        return Outcome(output, ModelUsage(provider="local", model="v1" if first else "v2"))

    async with cli_harness(tmp_path, PIPELINE) as h:
        h.scripts["classify"].work = classify
        cases = [await h.submit("intake", case_id=f"case-{i:03d}") for i in range(len(calm) + 12)]
        for case in cases:
            await h.wait_for(case, CaseCompleted)

    page = tmp_path / "report.html"
    done = run_caseyard(
        tmp_path, "models", "report", "--json", "--html", str(page), "--fail-on-drift"
    )
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stderr.strip().splitlines()[-1])
    assert error == {
        "error": "a model version drifted past the threshold",
        "type": "DriftBreach",
        "exit_code": 1,
    }
    report = json.loads(done.stdout)
    v1, v2 = report["versions"]
    assert (v1["model"], v1["documents"], v1["drift_breach"]) == ("local/v1", len(calm), False)
    assert (v2["model"], v2["documents"], v2["drift_breach"]) == ("local/v2", 12, True)
    assert v2["mix"] == {"fraud_report": 1.0} and v2["confidence_histogram"][5] == 12

    async with browser(chromium, tmp_path / "profile") as context:
        tab = await context.new_page()
        await tab.goto(page.as_uri())
        versions = tab.locator("section.version")
        await expect(versions).to_have_count(2)
        await expect(tab.locator("section.breach h2")).to_have_text("local/v2")
        mix = tab.locator("section.breach svg.mix")
        await expect(mix).to_be_visible()
        await expect(mix.get_by_text("fraud_report")).to_be_visible()
        await expect(mix.get_by_text("100% /")).to_be_visible()  # all seen, few trained
        assert await tab.locator("svg.confidence").count() == 2
