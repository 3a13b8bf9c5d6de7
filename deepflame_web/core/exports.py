"""CSV exports that a spreadsheet opens safely.

A cell that starts with = + - @, a tab or a carriage return is read as a formula by Excel
and LibreOffice (CSV injection): a segment name a Marketer typed could run one on an
Analyst's machine. Every CSV the app serves writes its rows through `csv_row`.
"""

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that would start a formula gets a leading single quote; numbers stay."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(value) for value in values]
