"""Interchange formats that decide a document's type: real statements, the standards'
own shapes, and look-alikes that must be left to the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.models import Classifier
from agents.models.classifier import FORMAT_CONFIDENCE
from agents.models.formats import CAMT, MT940, MT942, OFX, recognise
from schemas.payloads import DocType

REAL = Path(__file__).resolve().parents[3] / "data" / "real" / "files"

MT942_REPORT = """\
:20:MT942-0001
:25:DE89370400440532013000
:28C:00012/001
:34F:EURD0,
:13D:2603121530+0100
:61:2603120312D120,50NTRFNONREF//B6C12
:86:166?00SEPA-UEBERWEISUNG?20EREF+INV-2026-77
:90D:1EUR120,50
:90C:0EUR0,
"""

CAMT_053 = """\
<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>STMT-2026-03-12</MsgId><CreDtTm>2026-03-12T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>2026-03-12-001</Id>
      <Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">1520.00</Amt></Bal>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


@pytest.mark.parametrize("path", sorted((REAL / "mt940-statements").iterdir()), ids=str)
def test_every_real_mt940_statement_is_recognised(path: Path) -> None:
    assert recognise(path.read_text(encoding="utf-8", errors="replace")) is MT940


@pytest.mark.parametrize("path", sorted((REAL / "ofxparse-statements").iterdir()), ids=str)
def test_every_real_ofx_statement_is_recognised(path: Path) -> None:
    assert recognise(path.read_text(encoding="utf-8", errors="replace")) is OFX


def test_an_mt942_interim_report_and_a_camt_053_statement_are_recognised() -> None:
    assert recognise(MT942_REPORT) is MT942
    assert recognise(CAMT_053) is CAMT
    # A prefixed namespace (ns2:BkToCstmrStmt) without the URN in sight still names it.
    assert recognise("<ns2:Document><ns2:BkToCstmrStmt>...") is CAMT


@pytest.mark.parametrize(
    "text",
    [
        # A prose statement: words, not a format (the model's business).
        "Account statement 1 March - 31 March\nOpening balance 1,200.00\nClosing balance 950.00",
        # An invoice quoting one MT940 field is not a statement.
        "Invoice 2026-17\nPlease quote\n:20:INV-2026-17\nin your transfer. Total EUR 120.00",
        # Half a statement: reference and account, no statement number or balance.
        ":20:REF\n:25:NL91ABNA0417164300\n:86:payment",
        # An OFX sign-on response alone holds no statement.
        "OFXHEADER:100\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</STATUS></SONRS>",
        # An e-mail that names the format in passing.
        "Hi, could you export the statements as OFX or camt.053 next time? Thanks",
        "",
    ],
)
def test_look_alikes_are_left_to_the_model(text: str) -> None:
    assert recognise(text) is None


def test_a_recognised_format_decides_the_classifiers_answer(classifier: Classifier) -> None:
    text = (REAL / "mt940-statements" / "jejik-ing.sta.txt").read_text(encoding="utf-8")
    answer = classifier.classify(text)
    assert answer.doc_type is DocType.BANK_STATEMENT
    assert answer.confidence == FORMAT_CONFIDENCE
    assert [label.label for label in answer.labels] == ["bank_statement"]
    assert classifier.predict_doc_types([text, CAMT_053]) == [DocType.BANK_STATEMENT] * 2
