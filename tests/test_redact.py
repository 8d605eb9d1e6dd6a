"""Personal identifiers never reach a report: emails, UK phone numbers, postcodes and NHS numbers are replaced."""

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from systemic_lib.data import redact as redact_module
from systemic_lib.data.redact import redact, redact_series


@pytest.mark.parametrize(
    "text, expected",
    [
        ("email jo.bloggs+x@example.co.uk now", "email [email] now"),
        ("ring 07700 900123 or 07700900123", "ring [phone] or [phone]"),
        ("mobile 07700-900-123", "mobile [phone]"),
        ("call 020 7946 0018 please", "call [phone] please"),
        ("landline 01632 960001", "landline [phone]"),
        ("tel 0161-496-0000", "tel [phone]"),
        ("tel (0161) 496 0000", "tel [phone]"),
        ("+44 7700 900123", "[phone]"),
        ("+44 (0)20 7946 0018", "[phone]"),
        ("0044 20 7946 0018", "[phone]"),
        ("my NHS number is 943 476 5919 ok", "my NHS number is [NHS number] ok"),
        ("nhs 9434765919", "nhs [NHS number]"),
        ("nhs 943-476-5919", "nhs [NHS number]"),
        ("I live at SW1A 1AA", "I live at [postcode]"),
        ("postcode m1 1ae.", "postcode [postcode]."),
        ("B33 8TH and EC1A1BB", "[postcode] and [postcode]"),
    ],
)
def test_identifiers_are_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "fix it in 2 weeks at 4pm, ref 12345",
        "born 1985, 3 kids, flat 12",
        "years 2024 and 2025",
        "the boiler broke on 03/04/2024",
        "order 1234567",
    ],
)
def test_ordinary_words_and_numbers_are_kept(text):
    assert redact(text) == text


def test_missing_values_pass_through():
    assert redact(None) is None
    s = redact_series(pd.Series(["a@b.com", None, "SW1A1AA", "fine"], dtype="str"))
    assert s.iloc[0] == "[email]" and pd.isna(s.iloc[1]) and s.iloc[2] == "[postcode]" and s.iloc[3] == "fine"


def test_series_and_single_agree():
    texts = ["call 07700 900123 at SW1A 1AA", "nhs 943 476 5919", "x@y.org", "nothing here"]
    assert redact_series(pd.Series(texts, dtype=object)).tolist() == [redact(t) for t in texts]


@pytest.mark.parametrize(
    "said, shown",
    [
        ("I'm at 34 Beacon Way, SW1A 1AA", "I'm at [address], [postcode]"),
        ("flat 2, 7a mill lane needs a repair", "flat 2, [address] needs a repair"),
        ("my mum at 112 St Johns Road fell", "my mum at [address] fell"),
    ],
)
def test_house_number_and_street_are_redacted(said, shown):
    assert redact(said) == shown


@pytest.mark.parametrize("said", ["it has been 3 weeks down the road and nothing", "2 bins, both full", "call 5 times"])
def test_counts_are_not_addresses(said):
    assert redact(said) == said


# ------------------------------------------------------------------ issue 13, item 7: more kinds of identifier
@pytest.mark.parametrize(
    "text, expected",
    [
        ("my NI is QQ 12 34 56 C thanks", "my NI is [NI number] thanks"),
        ("NI QQ123456C.", "NI [NI number]."),
        ("ni number ab-12-34-56-d", "ni number [NI number]"),
        ("I was born 03/04/1985 in Leeds", "I was born [date of birth] in Leeds"),
        ("DOB: 1985-04-03", "DOB: [date of birth]"),
        ("d.o.b. 3rd April 1985", "d.o.b. [date of birth]"),
        ("born on 3 Apr 85, fine", "born on [date of birth], fine"),
        ("sort code 12-34-56 account 12345678", "sort code [bank details]"),
        ("acc 12345678, sort 123456", "acc [bank details]"),
    ],
)
def test_ni_numbers_dates_of_birth_and_bank_details_are_replaced(text, expected):
    assert redact(text) == expected
    assert redact_series(pd.Series([text], dtype="str")).iloc[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "the boiler broke on 03/04/2024",
        "born 1985, 3 kids, flat 12",
        "ref 12-34-56 on the letter",
        "account number on the bill",
    ],
)
def test_dates_and_numbers_that_are_not_identifiers_are_kept(text):
    assert redact(text) == text


# ------------------------------------------------------------------ issue 13, item 8: every pattern is linear-time
@pytest.mark.parametrize(
    "token",
    [
        "a" * 300_000,
        "a." * 150_000,
        "1" * 300_000,
        "a@" * 150_000,
        "1 " * 150_000,
        "1 " + "a " * 150_000,
        "+44" * 100_000,
        "born " * 60_000,
        "-" * 300_000,
    ],
)
def test_a_long_token_takes_linear_time(token):
    import time

    t0 = time.perf_counter()
    redact(token)
    redact_series(pd.Series([token], dtype="str"))
    assert time.perf_counter() - t0 < 1.5, "a redaction pattern backtracks quadratically"


# ------------------------------------------------------------------ person names: an optional hook, off by default
def test_names_are_not_redacted_by_default_but_a_name_redactor_can_be_plugged_in(monkeypatch):
    from systemic_lib.data import redact as module

    assert redact("Jo Bloggs rang") == "Jo Bloggs rang"  # patterns cannot know a name
    monkeypatch.setattr(module, "_name_redactor", lambda text: text.replace("Jo Bloggs", "[name]"))
    assert redact("Jo Bloggs rang 07700 900123") == "[name] rang [phone]"
    assert redact_series(pd.Series(["Jo Bloggs rang"], dtype="str")).iloc[0] == "[name] rang"


def test_an_unknown_name_redactor_is_refused():
    from systemic_lib.data.redact import use_name_redactor

    with pytest.raises(ValueError, match="presidio"):
        use_name_redactor("crystal-ball")


@pytest.mark.skipif(
    not __import__("importlib").util.find_spec("presidio_analyzer"),
    reason="presidio-analyzer is not installed (the name redactor is optional)",
)
def test_presidio_name_redactor_when_installed():
    from systemic_lib.data.redact import use_name_redactor

    try:
        use_name_redactor("presidio")
        assert "John Smith" not in redact("My name is John Smith and my boiler is broken")
    finally:
        use_name_redactor(None)


# ------------------------------------------------------------------ issue 13, item 7: redacted once, on the data path
def test_every_stage_gets_free_text_redacted_after_rules_have_read_the_citizen_s_words(council_factory):
    """``Stage`` hands every stage redacted tables (``table``, ``load``, ``contacts``, even ``council.table``); rules
    still match the words as the citizen wrote them."""
    from systemic_lib.data.stages import Stage

    from conftest import TESTSHIRE

    demand = TESTSHIRE["demand.csv"].replace(",fix boiler,,,,\n", ",fix boiler QQ 12 34 56 C,,,ring 07700 900999,\n")
    events = TESTSHIRE["events.csv"].replace(
        "R1,housing-repairs,Inspect,2024-01-03 09:00,W2,Surveyors",
        "R1,housing-repairs,Inspect,2024-01-03 09:00,jo@example.com,Surveyors",
    )
    rules = "column,pattern,classification,failure_type\nverbatim,07700 9001,failure,progress chasing\n"
    folder = council_factory("redacted", demand=demand, events=events, rules=rules)
    stage = Stage(folder, "housing-repairs", "demand")
    for frame in (
        stage.table("demand"),
        stage.load("demand").frame,
        stage.council.table("demand"),
        stage.contacts().frame,
    ):
        shown = frame.set_index("contact_id")
        assert shown.loc["C02", "verbatim"].endswith("ring [phone]")
        assert shown.loc["C06", "demand_type"] == "fix boiler [NI number]"
        assert shown.loc["C06", "what_matters"] == "ring [phone]"
    assert "[phone]" in stage.load("demand").raw.set_index("contact_id").loc["C02", "verbatim"]
    assert "[email]" in stage.table("events")["worker"].tolist()
    # the rule matched the phone number as written (C06 was unclassified; its what matters is not the verbatim)
    rules_on_raw = Stage(
        council_factory(
            "rules2",
            demand=demand.replace(
                "C06,housing-repairs,2024-01-10 09:00,phone,,",
                "C06,housing-repairs,2024-01-10 09:00,phone,call 07700 900111,",
            ),
            rules=rules,
        ),
        "housing-repairs",
        "demand",
    )
    c06 = rules_on_raw.contacts().frame.set_index("contact_id").loc["C06"]
    assert c06["classification"] == "failure" and c06["verbatim"] == "call [phone]"


_PIECES = [
    "07700 900123",
    "+44 (0)20 7946 0958",
    "jo.bloggs@example.com",
    "a@b.co",
    "SW1A 1AA",
    "m1 1ae",
    "943 476 5919",
    "QQ 12 34 56 C",
    "qq123456c",
    "born 03/04/1985",
    "DOB: 3rd April 1985",
    "date of birth 1985-04-03",
    "sort code 12-34-56 account 12345678",
    "34 Beacon Way",
    "flat 2, 7a mill lane",
    "3 weeks down the road",
    "ref 2024",
    "x@",
    "@@",
    "0",
    "12",
    "word",
    "Born",
    "@example.com",
    "1985",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_PIECES), st.integers(0, 400), st.sampled_from([" ", "", "-", ".", "\n"])),
        min_size=1,
        max_size=25,
    )
)
def test_a_long_text_is_redacted_stretch_by_stretch_exactly_as_in_one_pass(pieces):
    words = "the boiler is still broken and nobody came "
    text = "".join(sep + piece + sep + (words * 10)[:gap] for piece, gap, sep in pieces)
    text = text + words * (redact_module._LONG // len(words) + 1)  # past the length that takes the stretch path
    assert len(text) > redact_module._LONG
    assume(not redact_module._dense(text))  # the stretch-by-stretch path, not the one-pass fallback
    assert redact(text) == redact_module._patterns(text)


def test_a_long_verbatim_in_a_series_is_redacted_like_a_short_one():
    long = "call 07700 900123 " + "the boiler is still broken " * 2000 + " or jo@example.com"
    out = redact_series(pd.Series([long, "ring 07700 900123", None], dtype="str"))
    assert out[0] == redact(long) and "[phone]" in out[0] and "[email]" in out[0]
    assert out[1] == "ring [phone]" and pd.isna(out[2])
