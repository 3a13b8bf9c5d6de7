"""Daypart windows on the 24-hour circle: pure logic, no database."""

import datetime as dt

import pytest

from offers.dayparts import crosses_midnight, parse_window, runs_in_window, window_spans

WINDOWS = {
    "breakfast": (dt.time(5, 0), dt.time(10, 30)),
    "lunch": (dt.time(10, 30), dt.time(14, 0)),
    "afternoon": (dt.time(14, 0), dt.time(17, 0)),
    "late_night": (dt.time(21, 0), dt.time(5, 0)),
}


def test_a_window_that_ends_before_it_starts_wraps_midnight() -> None:
    assert window_spans(dt.time(21, 0), dt.time(5, 0)) == [(1260, 1440), (0, 300)]
    assert window_spans(dt.time(10, 30), dt.time(14, 0)) == [(630, 840)]
    assert window_spans(dt.time(18, 0), dt.time(0, 0)) == [(1080, 1440)]
    assert crosses_midnight(dt.time(21, 0), dt.time(5, 0))
    assert not crosses_midnight(dt.time(18, 0), dt.time(0, 0))
    assert not crosses_midnight(dt.time(5, 0), dt.time(10, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-02:00", (dt.time(22, 0), dt.time(2, 0))),
        ("06:05-10:30", (dt.time(6, 5), dt.time(10, 30))),
        ("24:00-02:00", None),
        ("6:00-10:00", None),
        ("breakfast", None),
    ],
)
def test_parse_window(text: str, expected: tuple[dt.time, dt.time] | None) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("entries", "daypart", "runs"),
    [
        ([], "late_night", True),
        (["late_night"], "late_night", True),
        (["22:00-02:00"], "late_night", True),
        (["02:00-03:00"], "late_night", True),
        (["04:30-06:00"], "breakfast", True),
        (["04:30-06:00"], "late_night", True),
        (["04:30-06:00"], "lunch", False),
        (["lunch"], "afternoon", False),
        (["lunch"], "breakfast", False),
        (["13:59-14:01"], "afternoon", True),
        (["breakfast"], "late_night", False),
        (["23:00-04:59"], "breakfast", False),
        (["unknown_name"], "lunch", False),
    ],
)
def test_an_offer_runs_in_a_daypart_when_its_windows_overlap(
    entries: list[str], daypart: str, runs: bool
) -> None:
    assert runs_in_window(entries, WINDOWS[daypart], WINDOWS) is runs
