"""The API's JSON parser: every body that is not JSON the service can read is a 400.

DRF's ``JSONParser`` turns ``ValueError`` into a 400 but lets ``RecursionError`` through, so an
array nested a few thousand deep (a few kilobytes) is a 500 with a traceback in the log. Here
every failure to decode is the same ``malformed-request`` problem.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """``application/json``: what DRF's parser reads, and a 400 for what it cannot."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deep.") from None
