"""A run's parameters and result as a person reads them: labelled fields with plain values,
not Python dicts. Scratch paths (where an upload was unpacked) are the worker's business and
are left out; an archive is named by its file."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from deepflame_web.core.services import SCRATCH

NESTED_SHOWN = 6
"""Entries of a nested mapping shown in one field before "and N more"."""
LIST_SHOWN = 8


def run_fields(values: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) for each entry, in the run's own order."""
    return [
        (_label(name), _text(name, value))
        for name, value in (values or {}).items()
        if name != SCRATCH
    ]


def _label(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _text(name: str, value: Any) -> str:
    if name == "archive" and isinstance(value, str):
        return PurePath(value).name
    return _plain(value)


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        shown = ", ".join(_plain(v) for v in value[:LIST_SHOWN])
        more = len(value) - LIST_SHOWN
        return shown + (f" and {more} more" if more > 0 else "") if value else "none"
    if isinstance(value, dict):
        items = list(value.items())
        shown = "; ".join(f"{_label(str(k))}: {_plain(v)}" for k, v in items[:NESTED_SHOWN])
        more = len(items) - NESTED_SHOWN
        return shown + (f"; and {more} more" if more > 0 else "") if items else "none"
    return str(value)
