"""Take personal identifiers out of citizens' words before anyone else reads them.

A verbatim is what the citizen said; a report only needs what they wanted, not who they are. ``redact`` replaces
emails, UK phone numbers (mobiles, 01/02/03 landlines, +44 forms), UK postcodes, NHS numbers and house-number-and-
street addresses with a placeholder.
It errs on the side of hiding: a 10-digit number that is not a phone number is treated as an NHS number.
Redacted text still has to be HTML-escaped when shown (``report.table`` and ``report.esc`` do that).
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["redact", "redact_series", "PLACEHOLDERS"]

PLACEHOLDERS = {"email": "[email]", "phone": "[phone]", "postcode": "[postcode]", "nhs": "[NHS number]",
                "address": "[address]"}

_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# +44 forms (with an optional "(0)"), then 0-prefixed national numbers: 10 or 11 digits in all, spaces, hyphens,
# dots or brackets between groups.
_SEP = r"[\s().-]{0,2}"
_PHONE = (r"(?<![\w+])(?:"
          rf"(?:\+|00){_SEP}44{_SEP}(?:\(0\){_SEP})?[1-37-9](?:{_SEP}\d){{8,9}}"
          rf"|\(?0[1-37-9](?:{_SEP}\d){{8,9}}"
          r")(?![\d])")
# NHS numbers: 10 digits, usually written 3-3-4; not starting with 0 (those are phone numbers, caught above).
_NHS = r"(?<![\w+])[1-9]\d{2}[\s-]?\d{3}[\s-]?\d{4}(?!\d)"
# UK postcodes (outward code, optional space, inward code), any case.
_POSTCODE = (r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
             r" ?\d[ABD-HJLNP-UW-Z]{2})\b")

# A house number and street ("34 Beacon Way", "flat 2, 7a mill lane"): a number, one to three words, then a street
# word. Counts of time ("3 weeks down the road") are not addresses.
_STREET_WORDS = (r"road|rd|street|st|avenue|ave|lane|ln|way|close|drive|dr|court|ct|crescent|place|pl|gardens|"
                 r"terrace|grove|walk|row|square|mews|hill|rise|parade|view|green|end")
_ADDRESS = (r"\b\d{1,4}[a-z]?,?\s+(?!(?:days?|weeks?|months?|years?|hours?|times?|minutes?|mins?)\b)"
            rf"(?:[a-z'’-]+\s+){{1,3}}(?:{_STREET_WORDS})\b")

# Order matters: emails first (they may hold digits), then phones (0-prefixed), NHS numbers, postcodes.
_PATTERNS = (
    (re.compile(_EMAIL), PLACEHOLDERS["email"]),
    (re.compile(_PHONE), PLACEHOLDERS["phone"]),
    (re.compile(_NHS), PLACEHOLDERS["nhs"]),
    (re.compile(_POSTCODE, re.IGNORECASE), PLACEHOLDERS["postcode"]),
    (re.compile(_ADDRESS, re.IGNORECASE), PLACEHOLDERS["address"]),
)


def redact(text):
    """``text`` with emails, phone numbers, postcodes and NHS numbers replaced; None/NaN pass through."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return text
    out = str(text)
    for pattern, placeholder in _PATTERNS:
        out = pattern.sub(placeholder, out)
    return out


def redact_series(data: pd.Series) -> pd.Series:
    """Vectorised ``redact`` over a column of verbatims (missing values stay missing)."""
    out = data.astype("str") if not pd.api.types.is_string_dtype(data) else data
    for pattern, placeholder in _PATTERNS:
        out = out.str.replace(pattern, placeholder, regex=True)
    return out
