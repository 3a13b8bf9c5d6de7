"""Field validators shared by the offer model, its forms and the rules document."""

import re
from typing import Any

from django.core.exceptions import ValidationError

from offers.dayparts import parse_window


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
