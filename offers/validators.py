"""Field validators shared by the offer model, its forms and the rules document."""

import re
from typing import Any

from django.core.exceptions import ValidationError

WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_window(entry: str) -> tuple[int, int] | None:
    """Minutes of day (start, end) of an "HH:MM-HH:MM" window, or None for a daypart name."""
    match = WINDOW.match(entry)
    if match is None:
        return None
    hours_a, minutes_a, hours_b, minutes_b = (int(g) for g in match.groups())
    return hours_a * 60 + minutes_a, hours_b * 60 + minutes_b


def validate_text_list(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError("Give a list of non-empty texts.", code="not_text_list")
    if len(set(value)) != len(value):
        raise ValidationError("Each entry may appear once.", code="duplicate")


def validate_daypart_entries(value: Any) -> None:
    """Each entry is a daypart name (a slug) or a local-time window such as "22:00-05:00"."""
    validate_text_list(value)
    for entry in value:
        if ":" in entry and parse_window(entry) is None:
            raise ValidationError(
                f'"{entry}" is neither a daypart name nor a window like "22:00-05:00".',
                code="bad_window",
            )
        if ":" not in entry and not re.match(r"^[-a-zA-Z0-9_]+$", entry):
            raise ValidationError(f'"{entry}" is not a daypart name.', code="bad_daypart")
