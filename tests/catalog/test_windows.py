"""Daypart windows on the 24-hour circle: pure logic, no database."""

import pytest

from offers.dayparts import crosses_midnight, parse_window, runs_in_window, window_spans

WINDOWS = {
    "breakfast": (5 * 60, 10 * 60 + 30),
    "lunch": (10 * 60 + 30, 14 * 60),
    "afternoon": (14 * 60, 17 * 60),
    "late_night": (21 * 60, 5 * 60),
}


def test_a_window_that_ends_before_it_starts_wraps_midnight() -> None:
    assert window_spans(21 * 60, 5 * 60) == [(1260, 1440), (0, 300)]
    assert window_spans(10 * 60 + 30, 14 * 60) == [(630, 840)]
    assert window_spans(18 * 60, 0) == [(1080, 1440)]
    assert crosses_midnight(21 * 60, 5 * 60)
    assert not crosses_midnight(18 * 60, 0)
    assert not crosses_midnight(5 * 60, 10 * 60 + 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-02:00", (22 * 60, 2 * 60)),
        ("06:05-10:30", (6 * 60 + 5, 10 * 60 + 30)),
        ("24:00-02:00", None),
        ("6:00-10:00", None),
        ("breakfast", None),
    ],
)
def test_parse_window(text: str, expected: tuple[int, int] | None) -> None:
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
