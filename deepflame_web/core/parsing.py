"""The one way to read numbers and JSON that come from a request.

`str.isdigit()` accepts "²" and "٣", which `int()` then refuses or reads as a number the
user never typed; `json.loads` recurses once per nesting level. Both turned malformed input
into 500s: every view reads through these, so malformed input is a 400 or a 404.
"""

import json
import re
from typing import Any

_ASCII_NUMBER = re.compile(r"[0-9]{1,18}")
JSON_MAX_DEPTH = 32


def ascii_int(value: object) -> int | None:
    """A non-negative number written in ASCII digits that fits a database id, else None."""
    if not isinstance(value, str) or _ASCII_NUMBER.fullmatch(value) is None:
        return None
    return int(value)


class JSONTooDeepError(ValueError):
    pass


def json_depth_check(value: Any, *, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raise JSONTooDeepError when lists and objects nest deeper than max_depth."""
    if not isinstance(value, (dict, list)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise JSONTooDeepError(f"JSON nests deeper than {max_depth} levels.")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def json_loads_bounded(text: str | bytes, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """json.loads that raises ValueError (never RecursionError) on nesting past max_depth."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise JSONTooDeepError(f"JSON nests deeper than {max_depth} levels.") from exc
    json_depth_check(value, max_depth=max_depth)
    return value
