"""monitor.ingest.hl7_er7 reads what python-hl7 read: every field, component, repetition and
subcomponent of the shared example feeds and of generated messages, and the same events,
rejects and acknowledgements from the pipeline whichever reader it uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.ingest import build_ack, hl7_er7, parse_hl7_message, parse_hl7_stream
from monitor.ingest import hl7_fields as f

from . import hl7_reference as ref
from .builders import UTC_TZ, message, msh, obr, obx, orc, pid, pv1, seg, spm

DATA = Path(__file__).resolve().parents[2] / "data"
FILES = sorted(DATA.rglob("*.hl7"))
NOW = datetime(2026, 9, 14, 10, tzinfo=UTC)
CAP = 5  # indexes read past the last present part, per level
# python-hl7 logs malformed escapes with the deprecated Logger.warn
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def attempt(read: Any, *args: Any, **kwargs: Any) -> Any:
    """What a read gives, or the kind of error it raises."""
    try:
        return read(*args, **kwargs)
    except Exception as exc:
        return ("raised", type(exc).__name__ if not isinstance(exc, LookupError) else "Lookup")


def assert_same_reads(text: str) -> None:
    """Both readers agree on every part of every segment of `text`, or both refuse it."""
    old, new = attempt(ref.parse, text), attempt(hl7_er7.parse, text)
    if isinstance(old, tuple) or isinstance(new, tuple):
        assert isinstance(old, tuple) and isinstance(new, tuple), (text, old, new)
        return
    assert len(old) == len(new)
    assert attempt(lambda m: m.segment("MSH").__str__(), old) == attempt(
        lambda m: m.segment("MSH").__str__(), new
    )
    enc = new[0].enc.separators
    for old_seg, new_seg in zip(old, new, strict=True):
        assert ref.segment_id(old_seg) == f.segment_id(new_seg)
        assert attempt(str, old_seg) == attempt(str, new_seg)
        for field in range(len(old_seg) + 2):
            assert ref.raw(old_seg, field) == f.raw(new_seg, field), (text, field)
            assert ref.repetitions(old_seg, field) == f.repetitions(new_seg, field), (text, field)
            sent = ref.raw(old_seg, field)
            for rep in range(min(sent.count(enc[2]) + 3, CAP)):
                for comp in range(min(sent.count(enc[3]) + 3, CAP)):
                    for sub in range(min(sent.count(enc[4]) + 3, CAP)):
                        at = (field, comp), {"rep": rep, "sub": sub}
                        old_value = attempt(ref.value, old_seg, *at[0], **at[1])
                        assert old_value == attempt(f.value, new_seg, *at[0], **at[1]), (
                            text, field, rep, comp, sub,
                        )  # fmt: skip


def pipeline(text: str) -> Any:
    """Everything the pipeline makes of `text`: stream items, each message's outcome, ACKs."""
    outcomes = [
        parse_hl7_message(part.text, source="t.hl7", tz=UTC_TZ) for part in f.split_messages(text)
    ]
    acks = [
        [line for line in build_ack(outcome, code, "why", now=NOW).split("\r")
         if not line.startswith("MSH")] + [build_ack(outcome, code, now=NOW).split("|")[:9]]
        for outcome in outcomes for code in ("AA", "AE")
    ]  # fmt: skip
    stream = attempt(lambda: list(parse_hl7_stream(text, source="t.hl7", tz=UTC_TZ)))
    return stream, outcomes, acks


def assert_same_pipeline(text: str) -> None:
    new = attempt(pipeline, text)
    with ref.reference_reader():
        old = attempt(pipeline, text)
    assert new == old, text


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_shared_hl7_file_reads_the_same(path: Path) -> None:
    text = path.read_text()
    for part in f.split_messages(text):
        assert_same_reads(part.text)
    assert_same_pipeline(text)


def test_the_shared_files_are_there() -> None:
    assert len(FILES) >= 7


# Generated messages: separators, escapes, and text around them in every position.
ESCAPES = ["\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\X41\\", "\\X4G42\\", "\\X414\\", "\\H\\",
           "\\N\\", "\\.br\\", "\\.sp2\\", "\\.in1\\", "\\C2842\\", "\\M244241\\", "\\Zx\\",
           "\\\\", "\\", "\\.brx\\", "\\X\\", "#F#", "#X41#"]  # fmt: skip
ATOMS = ["A", "7", " ", "\t", "é", "|", "^", "~", "&", "#", "!", "*", "MSH", "OBX", *ESCAPES]
texts = st.lists(st.sampled_from(ATOMS), max_size=6).map("".join)
encodings = st.one_of(
    st.sampled_from(["^~\\&", "^~\\&#", "^~\\", "^~", "^", "", "^~#&", "*~\\&", "^^\\&", "^~\\^"]),
    st.text(alphabet="^~\\&#*!|", max_size=6),
)
segment_ids = st.sampled_from(["PID", "OBX", "OBR", "PV1", "NTE", "ZZ1", "MSH", "BHS", "", "P"])


@st.composite
def er7_messages(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from(["|", "|", "|", "!", "#", "^"]))
    head = "MSH" + sep + draw(encodings)
    if draw(st.booleans()):
        head += sep + sep.join(draw(st.lists(texts, max_size=12)))
    body = [
        draw(segment_ids) + sep + draw(st.sampled_from([sep, "|"])).join(fields)
        if fields else draw(segment_ids)
        for fields in draw(st.lists(st.lists(texts, max_size=8), max_size=5))
    ]  # fmt: skip
    text = draw(st.sampled_from(["\r", "\r", "\r\r"])).join([head, *body])
    return (
        draw(st.sampled_from(["", "", "", "", " ", "\r", "X", "MSH"]))
        + text
        + draw(st.sampled_from(["", "\r", " \n"]))
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(er7_messages())
def test_generated_messages_read_the_same(text: str) -> None:
    assert_same_reads(text)


# Generated ORU and ADT messages whose fields hold separators, escapes and odd values.
values = st.one_of(
    st.sampled_from(["114", "<^100", "=^120", "^130^-^140", "1\\S\\2", "13\\X30\\", "", "x"]),
    texts,
)
heads = st.builds(
    lambda head, enc: head.replace("^~\\&", enc, 1),
    st.builds(msh, kind=st.sampled_from(["ORU^R01^ORU_R01", "ADT^A01", "ADT^A40", "ACK", ""]),
              control=st.sampled_from(["C1", "C\\F\\2", "", "C^3"]),
              processing=st.sampled_from(["P", "T", "X", ""]),
              version=st.sampled_from(["2.5.1", "2.3", "9"])),
    st.sampled_from(["^~\\&", "^~\\&", "^~\\", "^~", "^~\\&#", "#~\\&"]),
)  # fmt: skip
body_segments = st.one_of(
    st.builds(pid, st.sampled_from(["MRN1^^^CITYGEN^MR", "A~B^^^H^MR", "", "X\\T\\1^^^A&B^MR"])),
    st.builds(pv1, values),
    st.builds(orc, values),
    st.builds(obr, time=st.sampled_from(["20260914080000+0000", "2026", "x", ""]), filler=values,
              specimen=st.sampled_from(["", "BLD&Blood", "UR^Urine", "\\S\\"])),
    st.builds(obx, values, code=st.sampled_from(["2951-2^Sodium^LN", "2823-3^K^LN", "NA^Na^L"]),
              unit=st.sampled_from(["mmol/L", "mg/dL", "", "mmol\\F\\L"]),
              status=st.sampled_from(["F", "C", "X", "R", ""]),
              time=st.sampled_from(["", "20260914070000+0000", "bad"]),
              kind=st.sampled_from(["NM", "SN", "ST"])),
    st.builds(spm, time=st.sampled_from(["", "20260914060000+0000"]), kind=values),
    st.builds(lambda code, at: seg("DG1", {1: "1", 3: code, 5: at}),
              st.sampled_from(["E87.1^Hyponatraemia^I10", "X^Y^SCT", "E871^^ICD10"]),
              st.sampled_from(["", "20260914", "bad"])),
    st.builds(lambda cx: seg("MRG", {1: cx}), st.sampled_from(["MRN2^^^CITYGEN^MR", ""])),
    st.builds(lambda at: seg("EVN", {1: "A01", 2: at}), st.sampled_from(["20260914", "x"])),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(heads, st.lists(body_segments, max_size=8))
def test_generated_oru_and_adt_give_the_same_events_rejects_and_acks(
    head: str, body: list[str]
) -> None:
    assert_same_pipeline(message(head, *body))


def test_repeated_separator_fails_where_python_hl7_failed() -> None:
    # "MSH|~|": the component separator is ~, and so (by default) is the repetition one.
    assert_same_reads("MSH|~|A|B\rPID|1||X")  # nothing to split: python-hl7 reads it
    assert_same_reads("MSH|~|A|B\rPID|1||X~Y")
    assert isinstance(attempt(hl7_er7.parse, "MSH|~|A|B\rPID|1||X~Y"), tuple)


@pytest.mark.parametrize("text", ["MSHMSH|^~\\&\rMSH", "MSHS|^~\\&\rMSH", "MSHS|^~\\&\rPID"])
def test_a_separator_among_the_letters_of_msh(text: str) -> None:
    assert_same_reads(text)
