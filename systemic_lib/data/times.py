"""Local times: the contract's times are naive local times; a time carrying a UTC offset is converted to the
council's zone, so that a Dutch date-only event keeps its date."""

from __future__ import annotations

import pandas as pd

LOCAL_ZONE = "Europe/London"
"""The contract's times are naive local times; times carrying an offset are converted to this zone."""

_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"


def local_times(values: pd.Series, local_zone: str) -> tuple[pd.Series, int]:
    """Naive local datetime64[ns] from naive, zone-aware or text times; returns how many carried a zone."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(local_zone).dt.tz_localize(None).astype("datetime64[ns]"), int(values.notna().sum())
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[ns]"), 0
    text = values.astype("str").str.strip().where(values.notna())
    zoned = text.str.contains(_OFFSET, regex=True, na=False)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if zoned.any():  # mixed offsets: through UTC, then to the local zone (a Dutch midnight stays that date)
        z = pd.to_datetime(text[zoned], utc=True, errors="coerce", format="ISO8601")
        out[zoned] = z.dt.tz_convert(local_zone).dt.tz_localize(None).astype("datetime64[ns]")
    if (~zoned).any():
        out[~zoned] = pd.to_datetime(text[~zoned], errors="coerce", format="mixed")
    return out, int(zoned.sum())
