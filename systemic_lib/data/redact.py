"""Take personal identifiers out of citizens' words before anyone else reads them.

A verbatim is what the citizen said; a report only needs what they wanted, not who they are. ``redact`` replaces
emails, UK phone numbers (mobiles, 01/02/03 landlines, +44 forms), UK postcodes, NHS numbers, National Insurance
numbers, dates of birth (a date next to "born", "DOB", "birthday" or "date of birth"), bank details (a sort code and an
account number, either one after its own words, an IBAN, a card number) and house-number-and-street addresses with a
placeholder, in the ways people write them ("dob is 01/02/1980", "DOB 01 02 1980", "phone07700900123", "14a Acacia
Av"; ``tests/test_redact.py`` lists the variants).
It errs on the side of hiding: a 10-digit number that is not a phone number is treated as an NHS number.

Person names cannot be caught by a pattern ("Rose", "Bath", "Will"): they are NOT redacted unless a named-entity
redactor is switched on with ``use_name_redactor("presidio")`` or ``("spacy")`` (or ``SYSTEMIC_REDACT_NAMES``), which
needs ``presidio-analyzer`` or spaCy and an English model installed. It is off by default.

Every pattern runs in linear time: each starts only at a token boundary (a look-behind) and bounds every
repetition, so a 10 MB verbatim or a 300,000-character token cannot make a report hang.
Redacted text still has to be HTML-escaped when shown (``report.table`` and ``report.esc`` do that).
"""

from __future__ import annotations

import os
import re

import pandas as pd

__all__ = ["redact", "redact_series", "PLACEHOLDERS", "use_name_redactor"]

PLACEHOLDERS = {
    "email": "[email]",
    "phone": "[phone]",
    "postcode": "[postcode]",
    "nhs": "[NHS number]",
    "address": "[address]",
    "ni": "[NI number]",
    "dob": "[date of birth]",
    "bank": "[bank details]",
    "name": "[name]",
}

# Local part, domain labels and top-level domain all bounded (RFC 5321 lengths); a match starts only where the
# local part starts, so a long token with no "@" costs one bounded look at its start, not one per character. One
# space either side of the "@" is allowed before a domain that starts with a letter ("jo @ example.com", not
# "call me @ 617-635-3126.").
_EMAIL = (
    r"(?<![A-Za-z0-9._%+'-])[A-Za-z0-9._%+'-]{1,64}(?:@| ?@ ?(?=[A-Za-z]))[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}"
)
# +44 forms (with an optional "(0)" or "0"), then 0-prefixed national numbers: 10 or 11 digits in all, spaces,
# hyphens, dots or brackets between groups. Each branch starts with a literal (+, 0 or a bracket) and only then
# looks behind (not inside a number: "phone07700900123" is a phone number), so the regex engine skips straight to
# candidates.
_SEP = r"[\s().-]{0,2}"
_INTL = rf"{_SEP}44{_SEP}(?:\(0\){_SEP}|0{_SEP})?[1-37-9](?:{_SEP}\d){{8,9}}"
_NATIONAL = rf"{_SEP}[1-37-9](?:{_SEP}\d){{8,9}}"
_PHONE = rf"(?:\+(?<![\d+]\+){_INTL}|0(?<![\d+]0)(?:0{_INTL}|{_NATIONAL})|\((?<![\d+]\()0{_NATIONAL})(?!\d)"
# NHS numbers: 10 digits, written 3-3-4, 3-4-3 or 5-5; not starting with 0 (those are phone numbers, caught above).
_NHS = r"[1-9](?<![\d+][1-9])(?:\d{2}[\s-]?\d{3}[\s-]?\d{4}|\d{2}[\s-]?\d{4}[\s-]?\d{3}|\d{4}[\s-]?\d{5})(?!\d)"
# National Insurance numbers: two letters, three pairs of digits, a letter A-D ("QQ 12 34 56 C", "QQ123456C"); after
# the words "NI", "NINO" or "national insurance" the letter may be left off ("NI number QQ123456").
_NI_DIGITS = r"[A-Za-z]{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}"
_NI = rf"(?<![A-Za-z0-9]){_NI_DIGITS}[\s-]?[A-Da-d](?![A-Za-z0-9])"
_NI_SAID = (
    r"(n(?<!\wn)(?:i|ino|ational\s{1,3}insurance)(?:\s{1,3}(?:no|number|num))?\.?[\s:#=-]{0,3})"
    rf"{_NI_DIGITS}(?:[\s-]?[A-Da-d])?(?![A-Za-z0-9])"
)
# A date next to "born", "DOB", "birthday" or "date of birth" (and "is", "was", "on", "the", "of" between): the words
# stay, the date goes. Next to those words a date may be written with spaces ("DOB 01 02 1980") or in one run of
# digits ("dob01021980").
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?"
_ORD = r"(?:st|nd|rd|th)?"
_DATE = (
    r"(?:\d{1,2}[/.\s-]{1,2}\d{1,2}[/.\s-]{1,2}\d{2,4}|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{8}|\d{6}"
    rf"|\d{{1,2}}{_ORD}\s{{1,3}}(?:of\s{{1,3}})?{_MONTH},?\s{{1,3}}\d{{2,4}}"
    rf"|{_MONTH}\s{{1,3}}\d{{1,2}}{_ORD},?\s{{1,3}}\d{{2,4}})(?!\d)"
)
# Each pattern that starts with words starts with a letter (then looks behind: not inside a word), which the regex
# engine skips to quickly; a pattern starting with a word boundary would be tried at every position.
_BIRTH = r"[bd](?<!\w[bd])(?:orn|ob|\.o\.b\.?|/o/b|ate\s{1,3}of\s{1,3}birth|irth\s{0,3}date|irthday|'?day)"
_DOB = rf"({_BIRTH}[\s:,=-]{{0,3}}(?:(?:is|was|on|in|the|of)\s{{1,3}}){{0,3}}){_DATE}"
# Bank details: a sort code and an account number given together, either way round, a few words apart; either one
# after its own words ("sort code 12-34-56", "account number 1234 5678"); an IBAN; a card number (16 to 19 digits).
_SORT = r"\d{2}[\s-]?\d{2}[\s-]?\d{2}"
_ACCOUNT = r"\d{4}[\s-]?\d{4}"
_BANK = (
    rf"\d(?<!\d\d)(?:\d[\s-]?\d{{2}}[\s-]?\d{{2}}(?!\d)[^\d\n]{{1,30}}?{_ACCOUNT}"
    rf"|\d{{3}}[\s-]?\d{{4}}(?!\d)[^\d\n]{{1,30}}?{_SORT})(?!\d)"
)
_BANK_SAID = (
    r"([abs](?<!\w[abs])(?:ort\s{0,3}code|/c|ank\s{1,3}account|ccount|cct|cc)\.?(?:\s{1,3}(?:no|number|num))?\.?"
    rf"[\s:#=-]{{0,3}})(?:{_ACCOUNT}|{_SORT})(?!\d)"
)
# An IBAN is matched from its first digit, after its country's two letters ("GB[bank details]").
_IBAN = r"\d(?<=[A-Za-z]{2}\d)(?<![A-Za-z0-9]{3}\d)\d ?[A-Za-z0-9]{4}(?: ?\d{4}){2,7}(?: ?\d{1,3})?(?![A-Za-z0-9])"
_CARD = r"\d(?<![\d+]\d)\d{3}(?:[\s-]?\d{4}){3}(?:\d{1,3})?(?!\d)"
# UK postcodes (outward code, up to two spaces or a hyphen, inward code), any case.
_POSTCODE = (
    r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
    r"(?: {0,2}|-)\d[ABD-HJLNP-UW-Z]{2})\b"
)

# A house number and street ("34 Beacon Way", "flat 2, 7a mill lane", "14-16 St. John's Rd", "14a Acacia Av"): a
# number (or a range), one to three words (a short one may end in a dot: "St.", "E."), then a street word or its
# usual short form. Counts ("3 weeks down the
# road", "2 kids in the park") are not addresses, nor is a number that ends a time or a decimal ("09:15:55.38 Case
# Resolved Park").
_STREET_WORDS = (
    r"road|rd|street|st|avenue|ave|av|avn|lane|ln|way|close|cl|drive|dr|court|ct|crescent|cres|place|pl|gardens|"
    r"gdns|gdn|terrace|terr|ter|grove|gr|grv|walk|wk|row|square|sq|mews|mws|hill|rise|parade|pde|view|green|end|"
    r"park|pk|boulevard|blvd|meadows?|mdws|cottages|cotts|heights|hts|croft|mount|quay|wharf|chase|approach|"
    r"broadway|esplanade|vale|villas|glade|grange|orchard|paddock|wynd|highway|hwy|circle|cir"
)
_ADDRESS = (
    r"\d(?<![\w.:]\d)\d{0,3}[a-z]?(?:[/-]\d{1,4}[a-z]?)?,?\s{1,5}"
    r"(?!(?:days?|weeks?|months?|years?|hours?|times?|minutes?|mins?|kids|children|people|dogs|cars|bags|bins)\b)"
    rf"(?:(?:[a-z'’-]{{1,40}}|[a-z]{{1,4}}\.)\s{{1,5}}){{1,3}}(?:{_STREET_WORDS})\b"
)

# Order matters: emails first (they may hold digits), then IBANs and card numbers, phones (0-prefixed: "0044 20 7946
# 0018" is not a sort code and an account), bank details and dates of birth (digits that an NHS pattern would take in
# part), NI numbers, NHS numbers, postcodes, addresses.
# Each has a gate: a cheap test that a text must pass before the full pattern, whose first character could be any
# letter, is run over it: a pattern run on the text as it is, or (``_Words``) words looked for in its lower case.


class _Words:
    """A gate of plain words, found in a text's lower case (one pass in C per word, no regular expression)."""

    def __init__(self, *words: str):
        self.words = words
        self.pattern = "|".join(re.escape(w) for w in words)

    def search(self, low: str) -> bool:
        return any(w in low for w in self.words)


_PATTERNS: tuple[tuple[re.Pattern, str, re.Pattern | _Words | None], ...] = (
    (re.compile(_EMAIL), PLACEHOLDERS["email"], re.compile("@")),
    (re.compile(_IBAN), PLACEHOLDERS["bank"], None),
    (re.compile(_CARD), PLACEHOLDERS["bank"], None),
    (re.compile(_PHONE), PLACEHOLDERS["phone"], None),
    (re.compile(_BANK), PLACEHOLDERS["bank"], None),
    (re.compile(_BANK_SAID, re.IGNORECASE), r"\1" + PLACEHOLDERS["bank"], _Words("sort", "s/c", "acc", "a/c")),
    (
        re.compile(_DOB, re.IGNORECASE),
        r"\1" + PLACEHOLDERS["dob"],
        _Words("born", "dob", "d.o.b", "d/o/b", "birth", "day"),
    ),
    (re.compile(_NI), PLACEHOLDERS["ni"], re.compile(r"\d[\s-]?[A-Da-d](?![A-Za-z0-9])")),
    (re.compile(_NI_SAID, re.IGNORECASE), r"\1" + PLACEHOLDERS["ni"], _Words("ni", "national")),
    (re.compile(_NHS), PLACEHOLDERS["nhs"], None),
    (
        re.compile(_POSTCODE, re.IGNORECASE),
        PLACEHOLDERS["postcode"],
        re.compile(r"\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}\b"),
    ),  # the inward code ("GIR 0AA" has one too)
    (re.compile(_ADDRESS, re.IGNORECASE), PLACEHOLDERS["address"], None),
)

_ANY = re.compile(r"[\d@]")  #: what every pattern above holds: a digit, or the "@" of an e-mail address

_name_redactor = None  #: text -> text with person names replaced; None (the default) leaves names alone


def use_name_redactor(kind) -> None:
    """Switch the optional named-entity redactor for person names on (``"presidio"``, ``"spacy"`` or a function
    text -> text) or off (None). Presidio needs ``pip install presidio-analyzer`` and a spaCy English model; spaCy
    needs ``pip install spacy`` and ``python -m spacy download en_core_web_sm`` (or ``SYSTEMIC_SPACY_MODEL``)."""
    global _name_redactor
    if kind is None or callable(kind):
        _name_redactor = kind
        return
    if kind == "presidio":
        from presidio_analyzer import AnalyzerEngine

        engine = AnalyzerEngine()

        def spans(text):
            return [(r.start, r.end) for r in engine.analyze(text=text, entities=["PERSON"], language="en")]
    elif kind == "spacy":
        import spacy

        nlp = spacy.load(os.environ.get("SYSTEMIC_SPACY_MODEL", "en_core_web_sm"))

        def spans(text):
            return [(e.start_char, e.end_char) for e in nlp(text).ents if e.label_ == "PERSON"]
    else:
        raise ValueError(f"no name redactor {kind!r}: use 'presidio', 'spacy', a function or None")

    def names(text: str) -> str:
        for start, end in sorted(spans(text), reverse=True):
            text = text[:start] + PLACEHOLDERS["name"] + text[end:]
        return text

    _name_redactor = names


if os.environ.get("SYSTEMIC_REDACT_NAMES"):  # e.g. set for a batch so every report kernel uses it
    use_name_redactor(os.environ["SYSTEMIC_REDACT_NAMES"])


# Every identifier above holds a digit, except an e-mail address, which holds an "@". A match lies within a bounded
# distance of that character: at most 70 characters before it for every pattern, at most 240 after a digit (an
# address: a number and up to three 40-letter words) and 760 after an "@" (a domain of up to nine labels). So in a
# long text only the stretches around digits and "@"s need the patterns; the rest cannot hold a match. Each stretch
# keeps 70 characters of context on both sides, so look-behinds and word boundaries see what the whole text shows.
_BEFORE, _AFTER_DIGIT, _AFTER_AT = 80, 260, 780
# A run of digits and "@"s no more than _BEFORE + _AFTER_DIGIT characters apart: one match per cluster, found in C.
_HOT = re.compile(r"[\d@](?:[^\d@]{0," + str(_BEFORE + _AFTER_DIGIT) + r"}[\d@])*")
_LONG = 20_000  #: texts longer than this are redacted stretch by stretch
_DENSE = 50  #: ... unless more than one character in this many is a digit or "@"


def _patterns(out: str) -> str:
    low = None
    for pattern, placeholder, gate in _PATTERNS:
        if isinstance(gate, _Words):
            low = out.lower() if low is None else low  # the words' gates read the text as it came, in lower case
            if not gate.search(low):
                continue
        elif gate is not None and not gate.search(out):
            continue
        out = pattern.sub(placeholder, out)
    return out


def _stretches(text: str):
    """(start, end) of the merged stretches of ``text`` that can hold an identifier, in order."""
    start = end = -1
    for m in _HOT.finditer(text):
        lo = max(0, m.start() - _BEFORE)
        after = _AFTER_AT if "@" in text[max(m.start(), m.end() - _AFTER_AT) : m.end()] else _AFTER_DIGIT
        hi = min(len(text), m.end() + after)
        if lo > end:
            if end >= 0:
                yield start, end
            start = lo
        end = max(end, hi)
    if end >= 0:
        yield start, end


def _dense(text: str, sample: int = 65_536) -> bool:
    """More than one character in ``_DENSE`` a digit or "@", judged on the start, middle and end of ``text``."""
    mid = len(text) // 2
    seen = text[:sample] + text[mid : mid + sample] + text[-sample:]
    return sum(map(seen.count, "0123456789@")) * _DENSE > len(seen)


def redact(text):
    """``text`` with every identifier above replaced; None/NaN pass through."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return text
    out = str(text)
    if _name_redactor is not None:
        out = _name_redactor(out)
    if len(out) <= _LONG or _dense(out):
        return _patterns(out)  # short, or so dense in digits that the stretches would be the whole text
    parts, done = [], 0
    for start, end in _stretches(out):
        parts += [out[done:start], _patterns(out[start:end])]
        done = end
    parts.append(out[done:])
    return "".join(parts)


def redact_series(data: pd.Series) -> pd.Series:
    """Vectorised ``redact`` over a column of verbatims (missing values stay missing); long texts go through
    ``redact`` one by one."""
    out = data.astype("str") if not pd.api.types.is_string_dtype(data) else data
    long = out.str.len().gt(_LONG).fillna(False).to_numpy(dtype=bool)
    if long.any():
        short = redact_series(out[~long]) if (~long).any() else out[~long]
        done = pd.concat([short, out[long].map(redact)]).reindex(out.index)
        return done.astype(out.dtype)
    if _name_redactor is not None:
        out = out.map(lambda t: t if pd.isna(t) else _name_redactor(t)).astype("str")
    hot = out.str.contains(_ANY, na=False)  # every pattern needs a digit or an "@": most texts have neither
    if not hot.all():
        return out if not hot.any() else out.where(~hot, _patterns_series(out[hot]))
    return _patterns_series(out)


def _patterns_series(out: pd.Series) -> pd.Series:
    low = None
    for pattern, placeholder, gate in _PATTERNS:
        if gate is None:
            out = out.str.replace(pattern, placeholder, regex=True)
            continue
        if isinstance(gate, _Words):
            low = out.str.lower() if low is None else low
            hit = low.str.contains(gate.pattern, regex=True, na=False)
        else:
            hit = out.str.contains(gate, na=False)
        if hit.any():
            out = out.where(~hit, out[hit].str.replace(pattern, placeholder, regex=True))
    return out
