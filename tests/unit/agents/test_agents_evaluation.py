"""Evaluation on real documents: held out by source, calibration, field accuracy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from agents.errors import ModelError
from agents.models import _data, evaluation
from agents.models.evaluation import (
    RealDocument,
    by_source,
    expected_calibration_error,
    extracted_fields,
    fields_by_source,
    held_out_answers,
    load_real,
    read_answers,
    same_value,
    scores,
    write_answers,
)
from agents.models.extractor import Calibration, extract, extract_raw
from schemas.payloads import DocType, ExtractedField, ExtractOutput, FieldType


def doc(id_: str, source: str, doc_type: DocType, text: str = "", **fields: str) -> RealDocument:
    return RealDocument(id_, source, doc_type, "en", text or id_, fields)


def test_each_source_is_predicted_by_a_model_that_never_saw_it() -> None:
    real = [
        doc("a1", "A", DocType.INVOICE),
        doc("a2", "A", DocType.RECEIPT),
        doc("b1", "B", DocType.INVOICE),
        doc("c1", "C", DocType.RECEIPT),
    ]
    seen: list[tuple[set[str], list[str]]] = []

    def fit(rest: Sequence[RealDocument]) -> evaluation.Predict:
        trained_on = {d.source for d in rest}

        def predict(texts: Sequence[str]) -> list[tuple[DocType, float]]:
            seen.append((trained_on, list(texts)))
            # A "model" that calls everything an invoice, sure of it.
            return [(DocType.INVOICE, 0.9) for _ in texts]

        return predict

    held = by_source(real, fit)
    assert sorted(seen, key=lambda s: s[1]) == [
        ({"B", "C"}, ["a1", "a2"]),
        ({"A", "C"}, ["b1"]),
        ({"A", "B"}, ["c1"]),
    ]
    assert held.documents == 4 and held.sources == 3
    assert held.accuracy == 0.5
    assert held.per_type["invoice"].recall == 1.0 and held.per_type["invoice"].precision == 0.5
    assert held.per_type["receipt"].f1 == 0.0
    assert held.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2, abs=1e-4)
    assert held.confusion == {"invoice": {"invoice": 2}, "receipt": {"invoice": 2}}
    # Sure and wrong half the time: badly calibrated, and no wrong answer escalates.
    assert held.ece == pytest.approx(0.4)
    assert held.wrong_below_threshold == 0.0
    assert held.single_source_types == ()


class MostCommonType:
    """A picklable `fit`: answers the type most common among the documents it was given,
    with the share of them it makes up as its confidence."""

    def __call__(self, rest: Sequence[RealDocument]) -> evaluation.Predict:
        types = [d.doc_type for d in rest]
        best = max(sorted(set(types)), key=types.count)
        share = types.count(best) / len(types)
        return lambda texts: [(best, share) for _ in texts]


def four_sources() -> list[RealDocument]:
    """Invoices of A (3) and D (1), receipts of B (2) and C (2)."""
    return [
        doc(f"{source}{i}", source, doc_type)
        for source, doc_type, n in (
            ("A", DocType.INVOICE, 3),
            ("B", DocType.RECEIPT, 2),
            ("C", DocType.RECEIPT, 2),
            ("D", DocType.INVOICE, 1),
        )
        for i in range(n)
    ]


def test_sources_fitted_in_worker_processes_give_the_same_result() -> None:
    real = four_sources()
    alone = by_source(real, MostCommonType())
    assert by_source(real, MostCommonType(), jobs=2) == alone
    # Held out, each source is outnumbered by the other type's: every answer is wrong.
    assert alone.confusion == {"invoice": {"receipt": 4}, "receipt": {"invoice": 4}}


def test_the_answers_of_some_sources_are_those_of_the_whole_evaluation() -> None:
    real = four_sources()
    every = held_out_answers(real, MostCommonType())
    for jobs in (1, 2):
        some = held_out_answers(real, MostCommonType(), jobs, sources={"B", "D", "Z"})
        assert some == [a for d, a in zip(real, every, strict=True) if d.source in "BD"]
    assert held_out_answers(real, MostCommonType(), sources=set()) == []


def test_held_out_answers_are_written_and_read_back_for_the_same_documents(
    tmp_path: Path,
) -> None:
    real = [doc("a1", "A", DocType.INVOICE), doc("b1", "B", DocType.RECEIPT)]
    answers = [(DocType.RECEIPT, 0.1 + 0.2), (DocType.RECEIPT, 1 / 3)]
    path = tmp_path / "held_out.jsonl"
    write_answers(path, real, answers)
    assert read_answers(path, real) == answers  # floats exactly, not rounded
    assert json.loads(path.read_text("utf-8").splitlines()[0]) == {
        "id": "a1",
        "source": "A",
        "doc_type": "invoice",
        "answer": "receipt",
        "confidence": 0.30000000000000004,
    }
    # Answers of another corpus are refused, naming the file: the corpus changed.
    with pytest.raises(ModelError, match=r"held_out\.jsonl: the answers are not of"):
        read_answers(path, [*real, doc("c1", "C", DocType.INVOICE)])
    with pytest.raises(ModelError, match=r"held_out\.jsonl: the answers are not of"):
        read_answers(path, real[::-1])
    relabelled = [real[0], doc("b1", "B", DocType.OTHER)]
    with pytest.raises(ModelError, match=r"held_out\.jsonl:2: .*b1 is labelled other now"):
        read_answers(path, relabelled)
    path.write_text(path.read_text("utf-8").replace('"receipt"', '"poem"', 1), "utf-8")
    with pytest.raises(ModelError, match=r"held_out\.jsonl:1: not a held-out answer"):
        read_answers(path, real)
    # Line numbers are the file's (a blank line counts); what is not an answer is named.
    lines = path.read_text("utf-8").replace('"poem"', '"receipt"').splitlines()
    for bad, why in (
        ("[1, 2]", "not an object"),
        (lines[1].replace("0.3333333333333333", "NaN"), "confidence nan"),
        (lines[1].replace("0.3333333333333333", "true"), "confidence True"),
        (lines[1].replace("0.3333333333333333", '"0.25"'), "confidence '0.25'"),
    ):
        path.write_text(f"{lines[0]}\n\n{bad}\n", "utf-8")
        with pytest.raises(ModelError, match=rf"held_out\.jsonl:3: not a held-out answer: {why}"):
            read_answers(path, real)
    with pytest.raises(ModelError, match="cannot read the held-out answers"):
        read_answers(tmp_path / "missing.jsonl", real)


def test_one_source_cannot_be_held_out() -> None:
    with pytest.raises(ModelError, match="two sources"):
        by_source([doc("a", "A", DocType.INVOICE)], lambda rest: lambda texts: [])


def test_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    assert expected_calibration_error([0.75] * 4, [True, True, True, False]) == 0.0
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0
    assert expected_calibration_error([0.95, 0.95], [False, False]) == pytest.approx(0.95)
    assert expected_calibration_error([], []) == 0.0


def test_threshold_shares_and_single_source_types() -> None:
    real = [
        doc("a", "A", DocType.INVOICE),
        doc("b", "B", DocType.INVOICE),
        doc("c", "B", DocType.RECEIPT),
    ]
    held = scores(real, [(DocType.INVOICE, 0.9), (DocType.RECEIPT, 0.3), (DocType.RECEIPT, 0.4)])
    assert held.wrong_below_threshold == 1.0  # the one wrong answer escalates
    assert held.right_below_threshold == 0.5  # one of two right answers asks a person
    assert held.single_source_types == ("receipt",)


def test_fields_are_compared_after_normalisation() -> None:
    assert same_value("total", "19.20", "19.2")
    assert same_value("total", "-19.20", "19.20")
    assert not same_value("total", "19.21", "19.20")
    assert not same_value("total", "n/a", "19.20")
    assert same_value("iban", "DE89370400440532013000", "DE89 3704 0044 0532 0130 00")
    assert same_value("invoice_number", "inv-001", "INV 001")
    assert same_value("issuer", "ACME GmbH", "Acme")
    assert not same_value("issuer", "Globex", "Acme")
    assert same_value("date", "2024-03-01", "2024-03-01")
    assert not same_value("date", None, "2024-03-01")


def test_the_extractor_output_maps_to_ground_truth_keys() -> None:
    def f(name: str, normalized: str) -> ExtractedField:
        return ExtractedField(
            name=name,
            value=normalized,
            type=FieldType.STRING,
            normalized=normalized,
            confidence=0.9,
        )

    out = ExtractOutput(
        fields=(
            f("date", "2024-01-02"),
            f("invoice_date", "2024-01-03"),
            f("total_amount", "19.20 EUR"),
            f("currency", "CHF"),
            f("organization", "Globex"),
            f("issuer", "Acme"),
        )
    )
    assert extracted_fields(out) == {
        "total": "19.20",
        "currency": "EUR",  # the total's, before the one the document declares
        "date": "2024-01-03",
        "issuer": "Acme",
    }
    # Without a total's currency, the declared one.
    declared = ExtractOutput(fields=(f("total_amount", "19.20"), f("currency", "CHF")))
    assert extracted_fields(declared) == {"total": "19.20", "currency": "CHF"}


def test_fields_by_source_counts_per_source_with_the_real_extractor() -> None:
    text = (
        "INVOICE\nInvoice number: INV-2024-0042\nInvoice date: 12 March 2024\n"
        "Total due: EUR 1,250.00\n"
    )
    real = [
        doc("x", "S1", DocType.INVOICE, text, total="1250.00", invoice_number="INV-2024-0042"),
        doc("y", "S2", DocType.INVOICE, text, total="99.00"),
        doc("z", "S2", DocType.COMPLAINT, "no fields here"),
    ]
    out = fields_by_source(real, extract)
    assert out["total"].documents == 2 and out["total"].exact == 1
    assert out["total"].by_source == {"S1": (1, 1), "S2": (0, 1)}
    assert out["invoice_number"].accuracy == 1.0
    assert "iban" not in out


def test_load_real_reads_the_corpus_and_refuses_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "corpus.jsonl"
    row = {
        "id": "1",
        "source": "S",
        "doc_type": "receipt",
        "text": "TOTAL 19.20",
        "fields": {"total": "19.20"},
    }
    good.write_text(json.dumps(row) + "\n\n", encoding="utf-8")
    (only,) = load_real(good)
    assert only.doc_type is DocType.RECEIPT and only.fields == {"total": "19.20"}
    with pytest.raises(ModelError, match="cannot read"):
        load_real(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**row, "doc_type": "poem"}) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match=":1:"):
        load_real(bad)


def test_the_shipped_real_corpus_loads_and_spans_several_sources() -> None:
    real = load_real()
    assert len({d.source for d in real}) >= 2
    assert len({d.id for d in real}) == len(real)


def test_field_answers_pair_each_answer_with_its_field_and_whether_it_is_right() -> None:
    real = [
        doc(
            "r1",
            "A",
            DocType.RECEIPT,
            "Invoice no. 4711\nTotal: 12.50 EUR",
            total="12.50",
            currency="EUR",
            invoice_number="9999",
            iban="DE89370400440532013000",
        )
    ]
    answers = evaluation.field_answers(real, extract_raw)
    by_name = {name: (confidence, right) for name, confidence, right in answers}
    # The currency read from the total's amount is the total's answer, not one of its own;
    # an IBAN the extractor did not find is no answer at all.
    assert sorted(by_name) == ["invoice_number", "total_amount"]
    assert by_name["total_amount"][1] is True
    assert by_name["invoice_number"][1] is False
    scored = evaluation.field_confidence(answers)
    assert (scored.answers, scored.right) == (2, 1)
    assert scored.wrong_below_threshold == 0.0  # the wrong number was given at >= 0.6


def test_the_shipped_calibration_is_the_one_the_development_sources_give() -> None:
    """`caseyard train extractor` fits it from the committed corpus: the file in the repo
    is what that run writes, so the two cannot drift apart unnoticed."""
    development = [d for d in load_real() if d.source in evaluation.EXTRACTOR_DEVELOPMENT_SOURCES]
    fitted = Calibration.fit(evaluation.field_answers(development, extract_raw))
    assert Calibration.load(_data.EXTRACTOR_CALIBRATION) == fitted
    assert fitted.levels  # the development sources answer something
