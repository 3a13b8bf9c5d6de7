"""The calendar of a demo run: days, calendar months, Monday-based weeks and their labels.

Everything downstream works on integer day numbers (0 = the start date) so that per-order date
logic is array indexing; this module is the one place that knows about real dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np


@dataclass(frozen=True)
class Period:
    """Days [start, end) covering `months` calendar months; the first month may start late."""

    start: date
    end: date
    day_month: np.ndarray
    day_weekend: np.ndarray
    day_of_year: np.ndarray
    month_labels: tuple[str, ...]
    month_fraction: np.ndarray
    week_mondays: tuple[date, ...]
    date_chars: np.ndarray

    @property
    def days(self) -> int:
        return len(self.day_month)

    @property
    def months(self) -> int:
        return len(self.month_labels)

    @property
    def weeks(self) -> int:
        return len(self.week_mondays)

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def days_of_month(self, month: int, *, weekend: bool) -> np.ndarray:
        """Day numbers of one month that are (or are not) Saturdays and Sundays."""
        mask = (self.day_month == month) & (self.day_weekend == weekend)
        return np.flatnonzero(mask)


def _add_months(first_of_month: date, months: int) -> date:
    total = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def build_period(start: date, months: int) -> Period:
    """Lay out the calendar: month m is the m-th calendar month counted from `start`'s month."""
    first = start.replace(day=1)
    end = _add_months(first, months)
    days = (end - start).days
    dates = [start + timedelta(days=offset) for offset in range(days)]
    month_starts = [_add_months(first, m) for m in range(months + 1)]
    day_month = np.array(
        [(d.year - first.year) * 12 + d.month - first.month for d in dates], dtype=np.int16
    )
    month_lengths = np.array([(month_starts[m + 1] - month_starts[m]).days for m in range(months)])
    days_in_period = np.bincount(day_month, minlength=months)
    first_monday = start - timedelta(days=start.weekday())
    weeks = (end - timedelta(days=1) - first_monday).days // 7 + 1
    return Period(
        start=start,
        end=end,
        day_month=day_month,
        day_weekend=np.array([d.weekday() >= 5 for d in dates]),
        day_of_year=np.array([d.timetuple().tm_yday for d in dates], dtype=np.int16),
        month_labels=tuple(f"{m.year:04d}-{m.month:02d}" for m in month_starts[:-1]),
        month_fraction=days_in_period / month_lengths,
        week_mondays=tuple(first_monday + timedelta(days=7 * w) for w in range(weeks)),
        date_chars=np.frombuffer("".join(d.isoformat() for d in dates).encode(), dtype=np.uint8)
        .reshape(days, 10)
        .copy(),
    )


@cache
def time_of_day_chars() -> np.ndarray:
    """ "THH:MM:SS" for every second of the day, as ASCII rows to glue onto dates."""
    seconds = np.arange(86400)
    parts = [seconds // 3600, seconds // 60 % 60, seconds % 60]
    chars = np.empty((86400, 9), dtype=np.uint8)
    chars[:, 0] = ord("T")
    chars[:, 3] = chars[:, 6] = ord(":")
    for column, part in zip((1, 4, 7), parts, strict=True):
        chars[:, column] = part // 10 + 48
        chars[:, column + 1] = part % 10 + 48
    return chars
