"""The API's JSON parser: DRF's, with a nesting limit, so deep JSON is a 400, not a 500."""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from deepflame_web.core.parsing import JSONTooDeepError, json_depth_check


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        try:
            json_depth_check(data)
        except JSONTooDeepError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        return data
