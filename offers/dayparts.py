"""Dayparts and time windows: the one home of what a daypart is and when a window runs.

A window is (start, end) minutes of the store's local day, half-open. One whose end is not
after its start wraps midnight (late night 21:00-05:00), one ending at 00:00 runs to midnight
and one that starts where it ends is the whole day. The catalog, eligibility, validation, the
feature and training jobs and serving all read windows here, so they cannot disagree about
which daypart a local time is in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
MINUTES_PER_DAY = 24 * 60

# DATA_CONTRACT.md's default dayparts, in store local time; the chain can edit them.
DEFAULT_DAYPARTS = [
    ("breakfast", dt.time(5, 0), dt.time(10, 30)),
    ("lunch", dt.time(10, 30), dt.time(14, 0)),
    ("afternoon", dt.time(14, 0), dt.time(17, 0)),
    ("dinner", dt.time(17, 0), dt.time(21, 0)),
    ("late_night", dt.time(21, 0), dt.time(5, 0)),
]

Window = tuple[int, int]
DaypartRow = tuple[str, int, int]


def minute_of_day(value: dt.time | dt.datetime) -> int:
    return value.hour * 60 + value.minute


def daypart_minutes() -> dict[str, Window]:
    """The chain's dayparts by name, as windows in minutes, in order of start."""
    # imported here: offers.models validates entries with parse_window, a top import would cycle
    from offers.models import Daypart

    return {
        d.name: (minute_of_day(d.start), minute_of_day(d.end))
        for d in Daypart.objects.order_by("start")
    }


def daypart_rows(dayparts: dict[str, Window]) -> list[DaypartRow]:
    """(name, start, end) in the given order: plain data for Spark tasks, which cannot read the
    database and run without this project."""
    return [(name, start, end) for name, (start, end) in dayparts.items()]


def parse_window(text: str) -> Window | None:
    """The minutes of an "HH:MM-HH:MM" window; None for anything else (a daypart name)."""
    found = WINDOW.match(text)
    if found is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def entry_window(entry: str, dayparts: dict[str, Window]) -> Window | None:
    """The window of an offer's daypart entry: a daypart's by name, else its own HH:MM-HH:MM;
    None for an unknown name."""
    window = dayparts.get(entry)
    return parse_window(entry) if window is None else (window[0], window[1])


def window_spans(start: int, end: int) -> list[Window]:
    """Half-open minute spans of a window; one that ends at or before its start wraps midnight."""
    if end > start:
        return [(start, end)]
    return [(start, MINUTES_PER_DAY), (0, end)] if end > 0 else [(start, MINUTES_PER_DAY)]


def crosses_midnight(start: int, end: int) -> bool:
    """Whether the window runs into the next day (one that ends at 00:00 does not)."""
    return 0 < end <= start


def window_text(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"


def window_mask(start: int, end: int) -> np.ndarray:
    """The minutes of the day inside the window, as 1,440 booleans."""
    mask = np.zeros(MINUTES_PER_DAY, dtype=bool)
    for a, b in window_spans(start, end):
        mask[a:b] = True
    return mask


def entries_mask(entries: Iterable[str], dayparts: dict[str, Window]) -> np.ndarray:
    """The minutes covered by daypart names and windows; no entries means the whole day.

    An unknown daypart name covers nothing: such an offer never runs until it is fixed
    (validation reports it).
    """
    entries = list(entries)
    if not entries:
        return np.ones(MINUTES_PER_DAY, dtype=bool)
    mask = np.zeros(MINUTES_PER_DAY, dtype=bool)
    for entry in entries:
        window = entry_window(entry, dayparts)
        if window is not None:
            mask |= window_mask(*window)
    return mask


def runs_in_window(entries: Iterable[str], window: Window, dayparts: dict[str, Window]) -> bool:
    """Whether an offer's daypart entries (names or HH:MM-HH:MM) overlap `window` at all."""
    return bool((entries_mask(entries, dayparts) & window_mask(*window)).any())


def daypart_at(local: dt.time | dt.datetime, dayparts: dict[str, Window]) -> str | None:
    """The daypart a local time falls in; where several cover it, the first by start, end and
    name (the training examples take the earliest start too)."""
    ordered = tuple(sorted((start, end, name) for name, (start, end) in dayparts.items()))
    return _daypart_by_minute(ordered)[minute_of_day(local)]


@lru_cache(maxsize=8)
def _daypart_by_minute(ordered: tuple[tuple[int, int, str], ...]) -> tuple[str | None, ...]:
    """Each minute's daypart, painted last to first so that the first one covering it wins;
    serving asks for every request, so a table beats a scan."""
    by_minute: list[str | None] = [None] * MINUTES_PER_DAY
    for start, end, name in reversed(ordered):
        for a, b in window_spans(start, end):
            by_minute[a:b] = [name] * (b - a)
    return tuple(by_minute)
