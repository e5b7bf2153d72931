"""Phone numbers on the wire: E.164 with a leading "+" (DESIGN §4.1), the one syntax rule.

ITU-T E.164 numbers are at most 15 digits and start with a country code, which never starts
with 0. This is syntax only: whether a number exists in its country's plan is the server's
question (``core.numbers``, with ``phonenumbers``), not the client's.
"""

from __future__ import annotations

import re
from typing import Final

E164: Final = re.compile(r"\+[1-9][0-9]{1,14}")
"""A number in the API and in the client: "+", then 2 to 15 digits, the first not 0."""

MAX_DIGITS: Final = 15


def is_e164(value: object) -> bool:
    """Whether ``value`` is a string in E.164 form ("+" and digits, as the API writes numbers)."""
    return isinstance(value, str) and E164.fullmatch(value) is not None
