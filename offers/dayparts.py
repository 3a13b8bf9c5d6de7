"""Dayparts and time windows: the one home of what a daypart is and when a window runs."""

import datetime as dt
import re

from offers.models import Daypart

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


def daypart_windows() -> dict[str, tuple[dt.time, dt.time]]:
    return {d.name: (d.start, d.end) for d in Daypart.objects.all()}


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def window_spans(start: dt.time, end: dt.time) -> list[tuple[int, int]]:
    """Half-open minute spans of a window; one that ends at or before its start wraps midnight."""
    a, b = _minutes(start), _minutes(end)
    if b > a:
        return [(a, b)]
    return [(a, MINUTES_PER_DAY), (0, b)] if b > 0 else [(a, MINUTES_PER_DAY)]


def crosses_midnight(start: dt.time, end: dt.time) -> bool:
    return _minutes(end) <= _minutes(start) and _minutes(end) > 0


def parse_window(text: str) -> tuple[dt.time, dt.time] | None:
    found = WINDOW.match(text)
    if found is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    return dt.time(h1, m1), dt.time(h2, m2)


def runs_in_window(
    entries: list[str],
    window: tuple[dt.time, dt.time],
    windows: dict[str, tuple[dt.time, dt.time]],
) -> bool:
    """Whether an offer's daypart entries (names or HH:MM-HH:MM) overlap `window` at all."""
    if not entries:
        return True
    wanted = window_spans(*window)
    for entry in entries:
        own = windows.get(entry) or parse_window(entry)
        if own is None:
            continue
        for a1, b1 in window_spans(*own):
            if any(a1 < b2 and a2 < b1 for a2, b2 in wanted):
                return True
    return False
