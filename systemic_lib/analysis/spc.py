"""Capability (XmR) charts to the NHS "Making Data Count" standard.

``xmr`` takes a series and returns an :class:`XmrResult`: ``points``, one row per point with its phase, centre line,
process limits, 2σ lines, the special-cause rules it meets, one label by precedence and what that label means for the
measure's direction; and, beside it, the chart's phases, variation and assurance icons and Anhøj run tests (an
explicit object, not a frame's ``attrs``, which pandas drops). The conventions are those of METHOD.md ("Capability
chart conventions"):

* centre = mean; limits = mean ± 2.66 × mean moving range; σ = mean moving range / 1.128;
* no moving-range screening unless asked (then moving ranges above 3.267 × their mean are dropped once);
* comparisons are strict: a point exactly on a limit is not outside, a point on the mean breaks a shift, a tie breaks
  a trend, 2-of-3 counts only points strictly beyond 2σ and still within the limits (and flags only those);
* a phase starts at a known system change; its limits use only its own points, the moving range spanning the
  boundary is not used, and runs and trends do not cross it;
* ``baseline_points`` (≥ 12) fixes each phase's centre and limits from its first n points;
  a phase with fewer than 12 points behind its limits has *trial* limits.

Documented results for awkward input (never a bare traceback):

* missing values (NaN/None/empty) stay as rows with ``value`` NaN, the phase's lines, every rule False and ``signal``
  missing; they are left out of every calculation (a moving range joins the points either side of the gap) and
  counted in ``XmrResult.missing``;
* dates are sorted; duplicate dates, unreadable dates, text in the values, a phase start outside the data or fewer
  than two usable points raise :class:`SpcInputError` naming what to fix;
* a phase with a single point gets its value as centre, no limits (NaN) and ``trial`` True;
* a constant series gets zero-width limits and no signals.

Comparisons allow a relative tolerance of 1e-9 (of |mean| + mean moving range) so that floating-point noise in a
mean never turns a point "on the line" into a signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from systemic_lib.errors import SystemicError

__all__ = ["SpcInputError", "XmrResult", "xmr", "anhoj_limits", "IMPROVEMENT_CHOICES", "SIGNALS", "MIN_LIMIT_POINTS"]

#: Constants of the individuals chart (Wheeler; NHS Making Data Count).
LIMIT_FACTOR = 2.66
D2 = 1.128
SCREEN_FACTOR = 3.267
#: A phase needs this many points behind its limits, otherwise they are trial limits.
MIN_LIMIT_POINTS = 12
IMPROVEMENT_CHOICES = ("increase", "decrease", "neutral")
SIGNALS = ("improvement", "concern", "neutral", "common_cause")
#: Precedence of the single label per point (METHOD.md).
RULES = ("outside_limits", "trend", "two_of_three", "shift")
_REL_TOL = 1e-9


class SpcInputError(SystemicError, ValueError):
    """The series cannot be charted as given; the message says what to fix."""


@dataclass(frozen=True)
class XmrResult:
    """A capability chart: its points and what the rules say about them (what ``xmr`` returns).

    ``points``: one row per value (see ``xmr``). ``phases``: one dict per phase (phase, start, start_position, end,
    n, n_limits, mean, lower, upper, lower_2s, upper_2s, mean_moving_range, sigma, screened_moving_ranges, trial,
    and ``change``: whether the phase is really different from the one before, judged against the old centre and
    limits; None for the first). ``variation``: the variation icon of the last point (e.g. "common_cause",
    "special_cause_improvement_high"); ``assurance``: "pass", "fail", "hit_and_miss" or None (no target, neutral
    measure or no limits); ``anhoj``: one dict of run tests per phase; ``n`` the values charted, ``missing`` the
    missing ones left out; the rest are the settings the chart was drawn with.
    """

    points: pd.DataFrame
    phases: list[dict]
    variation: str
    assurance: str | None
    anhoj: list[dict]
    n: int
    missing: int
    improvement: str
    target: float | None = None
    floor: float | None = None
    ceiling: float | None = None
    baseline_points: int | None = None
    screen_moving_ranges: bool = False
    shift_points: int = 7
    trend_points: int = 7

    @property
    def current(self) -> dict:
        """The latest phase (the current system)."""
        return self.phases[-1]

    @property
    def has_dates(self) -> bool:
        """True when the points carry dates (else they are positions)."""
        return "date" in self.points.columns


# --------------------------------------------------------------------------------------------------- input checks
def _as_float_array(values) -> np.ndarray:
    """Numbers as float64 with NaN for missing; text raises naming the first bad value and its position."""
    if isinstance(values, pd.DataFrame):
        raise SpcInputError("xmr takes one series of values, not a table: pass a single column")
    if isinstance(values, (str, bytes)):
        raise SpcInputError("xmr needs a sequence of numbers, not a single piece of text")
    ser = pd.Series(
        values if isinstance(values, pd.Series) else list(values) if not isinstance(values, np.ndarray) else values
    ).reset_index(drop=True)
    if ser.dtype == bool:
        ser = ser.astype(float)
    numeric = pd.to_numeric(ser, errors="coerce")
    if ser.dtype == object or pd.api.types.is_string_dtype(ser.dtype):
        blank = ser.map(lambda v: isinstance(v, str) and not v.strip())
        bad = numeric.isna() & ser.notna() & ~blank
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise SpcInputError(
                f"value {ser.iloc[pos]!r} at position {pos} is not a number "
                f"({int(bad.sum())} non-numeric value(s) in all); fix or remove it"
            )
    arr = numeric.to_numpy(dtype=float, na_value=np.nan)
    inf = np.isinf(arr)
    if inf.any():
        pos = int(np.flatnonzero(inf)[0])
        raise SpcInputError(f"value at position {pos} is infinite; capability charts need finite numbers")
    return arr


def _as_dates(dates, n: int) -> pd.DatetimeIndex:
    if len(dates) != n:
        raise SpcInputError(f"{len(dates)} dates were given for {n} values; give one date per value")
    try:
        idx = pd.DatetimeIndex(
            pd.to_datetime(
                pd.Series(list(dates) if not isinstance(dates, pd.Series) else dates.reset_index(drop=True)),
                errors="raise",
            )
        )
    except (ValueError, TypeError) as exc:
        raise SpcInputError(f"the dates could not be read as dates ({exc}); use YYYY-MM-DD") from None
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    missing = np.flatnonzero(idx.isna())
    if len(missing):
        raise SpcInputError(f"the date at position {int(missing[0])} is missing; every value needs a date")
    dup = idx[idx.duplicated()]
    if len(dup):
        shown = ", ".join(sorted({d.strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00") for d in dup}))
        raise SpcInputError(
            f"duplicate dates: {shown}. A capability chart needs one value per date; "
            "aggregate first (e.g. a weekly median) or drop the repeats"
        )
    return idx


def _phase_positions(phase_starts, dates: pd.DatetimeIndex | None, n: int) -> list[int]:
    """Positions (in sorted order) where each phase after the first begins."""
    if phase_starts is None:
        return []
    if isinstance(phase_starts, (str, int, np.integer, pd.Timestamp)) or not isinstance(phase_starts, Iterable):
        phase_starts = [phase_starts]
    positions: set[int] = set()
    for start in phase_starts:
        if dates is None:
            if isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
                raise SpcInputError(f"phase start {start!r} must be a position (0 to {n - 1}) when no dates are given")
            pos = int(start)
            if not 0 <= pos < n:
                raise SpcInputError(f"phase start {pos} is outside the data (positions 0 to {n - 1})")
        else:
            try:
                when = pd.Timestamp(start)
            except (ValueError, TypeError):
                raise SpcInputError(f"phase start {start!r} is not a date; use YYYY-MM-DD") from None
            if when.tz is not None:
                when = when.tz_localize(None)
            first, last = dates[0], dates[-1]
            if when < first or when > last:
                raise SpcInputError(
                    f"phase start {when:%Y-%m-%d} is outside the data, which runs from {first:%Y-%m-%d} "
                    f"to {last:%Y-%m-%d}"
                )
            pos = int(dates.searchsorted(when, side="left"))
        if pos > 0:
            positions.add(pos)
    return sorted(positions)


# ------------------------------------------------------------------------------------------------ run machinery
def _runs(codes: np.ndarray, breaks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal codes (a True in ``breaks`` forces a new run)."""
    m = len(codes)
    if m == 0:
        return np.zeros(0, int), np.zeros(0, int)
    new = np.empty(m, bool)
    new[0] = True
    new[1:] = codes[1:] != codes[:-1]
    if breaks is not None:
        new[1:] |= breaks[1:]
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, m))
    return starts, lengths


def _cover(m: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Boolean mask of points covered by the half-open spans [start, stop)."""
    delta = np.zeros(m + 1, int)
    np.add.at(delta, starts, 1)
    np.add.at(delta, stops, -1)
    return np.cumsum(delta[:-1]) > 0


# ------------------------------------------------------------------------------------------------------- Anhøj
def anhoj_limits(n: int) -> tuple[int | None, int | None]:
    """(longest-run limit, minimum crossings) for n useful points (Anhøj & Olesen 2014).

    Longest run limit = round(log2 n) + 3 (a run longer than this is a signal); the minimum number of crossings is
    the 5th percentile of Binomial(n − 1, ½), i.e. the smallest k with P(X ≤ k) ≥ 0.05 (R's ``qbinom(0.05, n-1,
    0.5)``; fewer crossings than this is a signal). Gives n = 10 → (6, 2), 20 → (7, 6), 30 → (8, 10).
    """
    if n < 2:
        return None, None
    run_limit = int(round(math.log2(n))) + 3
    trials = n - 1
    if trials <= 1000:
        total = 2**trials
        threshold = 0.05 * total  # exact: compare integer cumulative counts with 5% of 2^(n-1)
        cum = 0
        for k in range(trials + 1):
            cum += math.comb(trials, k)
            if cum >= threshold:
                return run_limit, k
        return run_limit, trials  # pragma: no cover - unreachable
    ks = np.arange(1, trials + 1)
    log_pmf = np.concatenate([[0.0], np.cumsum(np.log(trials - ks + 1) - np.log(ks))]) - trials * math.log(2)
    cdf = np.cumsum(np.exp(log_pmf))
    return run_limit, int(np.searchsorted(cdf, 0.05, side="left"))


def _anhoj(side: np.ndarray) -> dict:
    useful = side[side != 0]
    n = int(len(useful))
    run_limit, cross_min = anhoj_limits(n)
    if n == 0:
        longest, crossings = 0, 0
    else:
        _, lengths = _runs(useful)
        longest = int(lengths.max())
        crossings = int(np.count_nonzero(useful[1:] != useful[:-1]))
    signal = bool(run_limit is not None and cross_min is not None and (longest > run_limit or crossings < cross_min))
    return {
        "n_useful": n,
        "longest_run": longest,
        "longest_run_limit": run_limit,
        "n_crossings": crossings,
        "n_crossings_min": cross_min,
        "signal": signal,
    }


# --------------------------------------------------------------------------------------------------------- xmr
def xmr(
    values,
    *,
    dates=None,
    phase_starts: Sequence = (),
    baseline_points: int | None = None,
    improvement: str = "increase",
    target: float | None = None,
    screen_moving_ranges: bool = False,
    shift_points: int = 7,
    trend_points: int = 7,
    floor: float | None = None,
    ceiling: float | None = None,
) -> XmrResult:
    """Individuals (XmR) chart of ``values`` with Making Data Count rules, as an :class:`XmrResult`.

    ``dates`` (optional) orders the points and makes ``phase_starts`` dates (a phase starts at the first point on or
    after its date); without dates, ``phase_starts`` are 0-based positions. ``improvement`` is the measure's good
    direction ("increase", "decrease" or "neutral"). ``floor``/``ceiling`` clip the drawn limits to a natural bound
    (0 for times and counts, 100 for percentages). See the module docstring for every convention.

    Columns of ``points``: [date], value, phase, moving_range, centre, lower, upper, lower_2s, upper_2s, trial,
    outside_limits, trend, two_of_three, shift, rule (one label or missing), signal (improvement / concern / neutral
    / common_cause; missing for a missing value). The rest (phases, variation, assurance, anhoj, n, missing and the
    settings) are the result's other fields.
    """
    _check_settings(improvement, baseline_points, shift_points, trend_points)
    series = _Series.of(values, dates, phase_starts)
    limits = _Limits.of(series, baseline_points, screen_moving_ranges, floor, ceiling)
    rules = _Rules.of(series, limits, shift_points, trend_points)
    labels = _Labels.of(rules, improvement)
    last = series.m - 1
    if labels.code[last] == 0:
        variation = "common_cause"
    else:
        variation = f"special_cause_{labels.signal[last]}_{'high' if labels.side[last] > 0 else 'low'}"
    phases, anhoj = _phases(series, limits, rules, improvement, shift_points)
    return XmrResult(
        points=_points(series, limits, rules, labels),
        phases=phases,
        variation=variation,
        assurance=_assurance(improvement, target, limits.lower[-1], limits.upper[-1], limits.tol[-1]),
        anhoj=anhoj,
        n=int(series.m),
        missing=series.n_missing,
        improvement=improvement,
        target=None if target is None else float(target),
        floor=floor,
        ceiling=ceiling,
        baseline_points=baseline_points,
        screen_moving_ranges=bool(screen_moving_ranges),
        shift_points=int(shift_points),
        trend_points=int(trend_points),
    )


def _check_settings(improvement: str, baseline_points, shift_points, trend_points) -> None:
    if improvement not in IMPROVEMENT_CHOICES:
        raise SpcInputError(f"improvement must be one of {', '.join(IMPROVEMENT_CHOICES)}, not {improvement!r}")
    if baseline_points is not None:
        if isinstance(baseline_points, bool) or not isinstance(baseline_points, (int, np.integer)):
            raise SpcInputError(f"baseline_points must be a whole number, not {baseline_points!r}")
        if baseline_points < MIN_LIMIT_POINTS:
            raise SpcInputError(
                f"a fixed baseline needs at least {MIN_LIMIT_POINTS} points (baseline_points={baseline_points}); "
                "use more points or leave the baseline unfixed"
            )
    for name, k in (("shift_points", shift_points), ("trend_points", trend_points)):
        if not isinstance(k, (int, np.integer)) or k < 2:
            raise SpcInputError(f"{name} must be a whole number of at least 2, not {k!r}")


@dataclass(frozen=True)
class _Series:
    """The values in date order with their phases: every row (``vals``, ``phase_all``, ``date_idx``) and the
    charted ones (``x``, ``ph``: the rows that are numbers, ``ok``), the phase starts (positions) and the moving
    ranges within phases (``mr``; ``same_phase``: a point is in the phase of the one before)."""

    vals: np.ndarray
    date_idx: pd.DatetimeIndex | None
    starts: list[int]
    phase_all: np.ndarray
    ok: np.ndarray
    x: np.ndarray
    ph: np.ndarray
    mr: np.ndarray
    same_phase: np.ndarray

    @property
    def n_all(self) -> int:
        return len(self.vals)

    @property
    def m(self) -> int:
        return len(self.x)

    @property
    def n_phases(self) -> int:
        return len(self.starts) + 1

    @property
    def n_missing(self) -> int:
        return int(self.n_all - self.ok.sum())

    @classmethod
    def of(cls, values, dates, phase_starts) -> _Series:
        vals = _as_float_array(values)
        n_all = len(vals)
        if n_all < 2:
            raise SpcInputError(f"a capability chart needs at least 2 values; {n_all} given")
        date_idx = None
        if dates is not None:
            date_idx = _as_dates(dates, n_all)
            order = np.argsort(date_idx.asi8, kind="stable")
            date_idx = date_idx[order]
            vals = vals[order]
        starts = _phase_positions(phase_starts, date_idx, n_all)
        phase_all = np.zeros(n_all, int)
        if starts:
            marks = np.zeros(n_all, int)
            marks[starts] = 1
            phase_all = np.cumsum(marks)
        ok = ~np.isnan(vals)
        if ok.sum() < 2:
            raise SpcInputError(
                f"a capability chart needs at least 2 values; only {int(ok.sum())} of {n_all} are numbers"
            )
        x, ph = vals[ok], phase_all[ok]
        # Moving ranges within phases (the one spanning a boundary is not used).
        mr = np.full(len(x), np.nan)
        with np.errstate(over="ignore"):
            mr[1:] = np.abs(np.diff(x))
        same_phase = np.zeros(len(x), bool)
        same_phase[1:] = ph[1:] == ph[:-1]
        mr[~same_phase] = np.nan
        return cls(vals, date_idx, starts, phase_all, ok, x, ph, mr, same_phase)


@dataclass(frozen=True)
class _Limits:
    """Per phase: the points (``n_pts``), those behind the limits (``n_used``), the moving ranges screened out,
    the centre, mean moving range, sigma, limits (3σ and 2σ, clipped to ``floor``/``ceiling``), the tolerance a
    point must clear to be off the centre or past a limit, and whether the limits are trial ones; ``bounds``: where
    each phase starts among the charted points."""

    centre: np.ndarray
    mrbar: np.ndarray
    sigma: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    upper2: np.ndarray
    lower2: np.ndarray
    tol: np.ndarray
    trial: np.ndarray
    n_pts: np.ndarray
    n_used: np.ndarray
    n_screened: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, s: _Series, baseline_points, screen_moving_ranges, floor, ceiling) -> _Limits:
        n_phases, x, mr = s.n_phases, s.x, s.mr
        centre = np.full(n_phases, np.nan)
        mrbar = np.full(n_phases, np.nan)
        n_pts = np.zeros(n_phases, int)
        n_used = np.zeros(n_phases, int)
        n_screened = np.zeros(n_phases, int)
        bounds = np.searchsorted(s.ph, np.arange(n_phases + 1), side="left")
        for k in range(n_phases):  # a short loop over phases, not points
            lo, hi = bounds[k], bounds[k + 1]
            n_pts[k] = hi - lo
            if hi == lo:
                continue
            b_hi = hi if baseline_points is None else min(hi, lo + int(baseline_points))
            n_used[k] = b_hi - lo
            with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308: checked below
                centre[k] = x[lo:b_hi].mean()
                ranges = mr[lo + 1 : b_hi]
                if len(ranges):
                    avg = ranges.mean()
                    if screen_moving_ranges and avg > 0:
                        keep = ranges <= SCREEN_FACTOR * avg
                        n_screened[k] = int((~keep).sum())
                        avg = ranges[keep].mean()
                    mrbar[k] = avg
        with np.errstate(over="ignore", invalid="ignore"):
            sigma = mrbar / D2
            upper = centre + LIMIT_FACTOR * mrbar
            lower = centre - LIMIT_FACTOR * mrbar
            upper2 = centre + 2 * sigma
            lower2 = centre - 2 * sigma
        if np.isinf(np.concatenate([centre, mrbar, upper, lower, upper2, lower2])).any():
            raise SpcInputError(
                "the values are too large to chart (their mean, moving ranges or limits pass the largest "
                "number a computer holds, about 1.8e308): rescale them, e.g. to thousands or millions"
            )
        if floor is not None:
            lower, lower2 = np.fmax(lower, floor), np.fmax(lower2, floor)
            lower, lower2 = np.where(np.isnan(mrbar), np.nan, lower), np.where(np.isnan(mrbar), np.nan, lower2)
        if ceiling is not None:
            upper, upper2 = np.fmin(upper, ceiling), np.fmin(upper2, ceiling)
            upper, upper2 = np.where(np.isnan(mrbar), np.nan, upper), np.where(np.isnan(mrbar), np.nan, upper2)
        tol = _REL_TOL * (np.abs(np.nan_to_num(centre)) + np.nan_to_num(mrbar))
        trial = n_used < MIN_LIMIT_POINTS
        return cls(centre, mrbar, sigma, upper, lower, upper2, lower2, tol, trial, n_pts, n_used, n_screened, bounds)


@dataclass(frozen=True)
class _Rules:
    """The Making Data Count rules, per charted point: its side of the centre (``side``: 1, -1 or 0 on it; ``d``
    its distance), outside the limits, in a trend (``trend_up`` for a rising one), two of three beyond 2σ
    (``hi2``/``lo2``: the point is beyond 2σ high/low, within the limits) and in a shift."""

    d: np.ndarray
    side: np.ndarray
    outside: np.ndarray
    hi2: np.ndarray
    lo2: np.ndarray
    shift: np.ndarray
    trend: np.ndarray
    trend_up: np.ndarray
    two: np.ndarray

    @classmethod
    def of(cls, s: _Series, lim: _Limits, shift_points: int, trend_points: int) -> _Rules:
        ph, x = s.ph, s.x
        c_p, u_p, l_p, u2_p, l2_p, t_p = (
            lim.centre[ph],
            lim.upper[ph],
            lim.lower[ph],
            lim.upper2[ph],
            lim.lower2[ph],
            lim.tol[ph],
        )
        d = x - c_p
        with np.errstate(invalid="ignore"):
            side = np.where(d > t_p, 1, np.where(d < -t_p, -1, 0))
            outside = (x > u_p + t_p) | (x < l_p - t_p)
            hi2 = (x > u2_p + t_p) & ~outside & (side > 0)
            lo2 = (x < l2_p - t_p) & ~outside & (side < 0)
        # Shift: runs of shift_points or more on one side of the centre (a point on it breaks the run).
        _, r_len = _runs(side, ~s.same_phase)
        shift = (np.repeat(r_len, r_len) >= shift_points) & (side != 0)
        trend_up, trend_down = _trends(s, trend_points)
        return cls(d, side, outside, hi2, lo2, shift, trend_up | trend_down, trend_up, _two_of_three(ph, hi2, lo2))


def _trends(s: _Series, trend_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in a rising (falling) trend: trend_points or more points each strictly above (below) the one before,
    within a phase."""
    x, m = s.x, s.m
    step = np.zeros(m - 1, int)
    step[x[1:] > x[:-1]] = 1
    step[x[1:] < x[:-1]] = -1
    step[~s.same_phase[1:]] = 0
    s_start, s_len = _runs(step)
    codes = step[s_start] if len(step) else np.zeros(0, int)
    need = trend_points - 1
    up_runs = (codes == 1) & (s_len >= need)
    down_runs = (codes == -1) & (s_len >= need)
    trend_up = _cover(m, s_start[up_runs], s_start[up_runs] + s_len[up_runs] + 1)
    trend_down = _cover(m, s_start[down_runs], s_start[down_runs] + s_len[down_runs] + 1)
    return trend_up, trend_down


def _two_of_three(ph: np.ndarray, hi2: np.ndarray, lo2: np.ndarray) -> np.ndarray:
    """Any 3 consecutive points (same phase) with at least 2 beyond 2σ on one side, within limits: those points."""
    m = len(ph)
    two = np.zeros(m, bool)
    if m >= 3:
        whole = ph[:-2] == ph[2:]
        for flags in (hi2, lo2):
            f = flags.astype(int)
            hit = ((f[:-2] + f[1:-1] + f[2:]) >= 2) & whole
            covered = np.zeros(m, bool)
            covered[:-2] |= hit
            covered[1:-1] |= hit
            covered[2:] |= hit
            two |= covered & flags
    return two


@dataclass(frozen=True)
class _Labels:
    """One label per charted point by precedence (``code``: 0 none, else 1 + its index in ``RULES``; ``rule``: its
    name), the side it points to (``side``: 1 high, -1 low) and its meaning for this measure (``signal``)."""

    code: np.ndarray
    side: np.ndarray
    signal: np.ndarray
    rule: np.ndarray

    @classmethod
    def of(cls, r: _Rules, improvement: str) -> _Labels:
        code = np.select([r.outside, r.trend, r.two, r.shift], [1, 2, 3, 4], default=0)
        trend_side = np.where(r.trend_up, 1, -1)
        two_side = np.where(r.hi2, 1, -1)
        side = np.select(
            [code == 1, code == 2, code == 3, code == 4],
            [np.sign(r.d), trend_side, two_side, r.side],
            default=0,
        ).astype(int)
        if improvement == "neutral":
            special = np.full(len(code), "neutral", dtype=object)
        else:
            good = 1 if improvement == "increase" else -1
            special = np.where(side == good, "improvement", "concern").astype(object)
        signal = np.where(code > 0, special, "common_cause").astype(object)
        rule = np.array([None, *RULES], dtype=object)[code]
        return cls(code, side, signal, rule)


def _points(s: _Series, lim: _Limits, r: _Rules, lab: _Labels) -> pd.DataFrame:
    """Every row back (missing values keep their phase lines, no rule, no signal): the chart's points."""

    def full(arr, fill):
        out = np.full(s.n_all, fill, dtype=np.asarray(arr).dtype if fill is not None else object)
        out[s.ok] = arr
        return out

    frame: dict[str, object] = {}
    if s.date_idx is not None:
        frame["date"] = s.date_idx
    phase_all = s.phase_all
    frame.update(
        {
            "value": s.vals,
            "phase": phase_all,
            "moving_range": full(s.mr, np.nan),
            "centre": lim.centre[phase_all],
            "lower": lim.lower[phase_all],
            "upper": lim.upper[phase_all],
            "lower_2s": lim.lower2[phase_all],
            "upper_2s": lim.upper2[phase_all],
            "trial": lim.trial[phase_all],
            "outside_limits": full(r.outside, False),
            "trend": full(r.trend, False),
            "two_of_three": full(r.two, False),
            "shift": full(r.shift, False),
            "rule": full(lab.rule, None),
            "signal": full(lab.signal, None),
        }
    )
    return pd.DataFrame(frame)


def _phases(s: _Series, lim: _Limits, r: _Rules, improvement: str, shift_points: int) -> tuple[list[dict], list[dict]]:
    """One dict per phase (its span, limits and change from the phase before), and its run tests (Anhøj)."""
    phases: list[dict] = []
    anhoj = []
    starts, date_idx = s.starts, s.date_idx
    for k in range(s.n_phases):
        first = starts[k - 1] if k else 0
        lo, hi = lim.bounds[k], lim.bounds[k + 1]
        last = (starts[k] if k < len(starts) else s.n_all) - 1
        phases.append(
            {
                "phase": k,
                "start": date_idx[first] if date_idx is not None else first,
                "start_position": int(first),
                "end": date_idx[last] if date_idx is not None else last,
                "n": int(lim.n_pts[k]),
                "n_limits": int(lim.n_used[k]),
                "mean": _num(lim.centre[k]),
                "lower": _num(lim.lower[k]),
                "upper": _num(lim.upper[k]),
                "lower_2s": _num(lim.lower2[k]),
                "upper_2s": _num(lim.upper2[k]),
                "mean_moving_range": _num(lim.mrbar[k]),
                "sigma": _num(lim.sigma[k]),
                "screened_moving_ranges": int(lim.n_screened[k]),
                "trial": bool(lim.trial[k]),
            }
        )
        anhoj.append({"phase": k, **_anhoj(r.side[lo:hi])})
        phases[-1]["change"] = _change_signal(
            s.x[lo:hi], phases[-2] if k else None, lim.tol[k - 1] if k else 0.0, improvement, shift_points
        )
    return phases, anhoj


def _change_signal(xs: np.ndarray, before: dict | None, tol: float, improvement: str, need: int) -> dict | None:
    """Is a phase really different from the one before? Its points judged against the old centre and limits.

    A signal when ``need`` (7) or more points in a row sit on one side of the old mean, or any point is beyond
    the old limits; the side is that of the longest such run (else of the points beyond the limits).
    """
    if before is None or before["mean"] is None or len(xs) == 0:
        return None
    old = before["mean"]
    side = np.where(xs > old + tol, 1, np.where(xs < old - tol, -1, 0))
    starts, lengths = _runs(side)
    codes = side[starts]
    lengths = np.where(codes != 0, lengths, 0)
    run_side = int(codes[np.argmax(lengths)]) if lengths.max() >= need else 0
    beyond_high = before["upper"] is not None and bool((xs > before["upper"] + tol).any())
    beyond_low = before["lower"] is not None and bool((xs < before["lower"] - tol).any())
    direction = run_side or (1 if beyond_high and not beyond_low else -1 if beyond_low and not beyond_high else 0)
    if direction == 0:
        signal = None
    elif improvement == "neutral":
        signal = "neutral"
    else:
        signal = "improvement" if (direction > 0) == (improvement == "increase") else "concern"
    return {
        "old_mean": float(old),
        "longest_run_beyond_old_mean": int(lengths.max()),
        "side": {1: "high", -1: "low", 0: None}[direction],
        "outside_old_limits": int(
            (
                (xs > (before["upper"] if before["upper"] is not None else np.inf) + tol)
                | (xs < (before["lower"] if before["lower"] is not None else -np.inf) - tol)
            ).sum()
        ),
        "signal": signal,
    }


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or np.isnan(v) else float(v)


def _assurance(improvement: str, target, lower: float, upper: float, tol: float) -> str | None:
    """MDC assurance icon: where the target sits against the current limits."""
    if target is None or improvement == "neutral" or np.isnan(lower) or np.isnan(upper):
        return None
    target = float(target)
    if improvement == "increase":
        if target < lower - tol:
            return "pass"
        if target > upper + tol:
            return "fail"
    else:
        if target > upper + tol:
            return "pass"
        if target < lower - tol:
            return "fail"
    return "hit_and_miss"
