"""URL path converters that refuse what the database cannot hold, before any view runs.

Django's ``<str:...>`` takes any text without "/", so a path such as ``/v1/keys/%00/revoke``
reaches a query with a NUL byte, which PostgreSQL cannot store or compare: a 500. Each
converter here names a value the API looks up, and matches only text its column could hold:
no control character (NUL included), at most the column's length. Anything else does not
resolve, and is the ``not-found`` problem (``core.problems.handler404``). What the text means
(a valid serial, a known service) is still the view's to say, with its own problem.

Registered when this module is first imported, which every ``urls.py`` using them does; used
as ``<serial:serial>``, ``<repository_id:certificate_id>``, ``<key_prefix:prefix>``,
``<number:number>`` and ``<service:service>``. Their lengths are the columns' (``ca``,
``providers``, ``directory`` models), checked by ``tests/core/test_bad_input.py``.
"""

from __future__ import annotations

from typing import ClassVar

from django.urls import register_converter
from django.urls.converters import get_converters

from core.numbers import MAX_INPUT_LENGTH


class ColumnTextConverter:
    """Text of 1 to ``max_length`` characters, none a control character or "/"."""

    max_length: ClassVar[int]
    regex: str  # set for each subclass from its max_length

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.regex = rf"[^/\x00-\x1f\x7f]{{1,{cls.max_length}}}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class SerialConverter(ColumnTextConverter):
    """A certificate serial (``ca.Certificate.serial``)."""

    max_length = 40


class RepositoryIdConverter(ColumnTextConverter):
    """A certificate's name in the public repository (``ca.Certificate.repository_id``)."""

    max_length = 32


class KeyPrefixConverter(ColumnTextConverter):
    """The visible prefix of an API key (``providers.ApiKey.prefix``)."""

    max_length = 16


class ServiceConverter(ColumnTextConverter):
    """A service name (``directory.Handler.service``)."""

    max_length = 16


class NumberConverter(ColumnTextConverter):
    """A phone number as typed: parsed to E.164 by the view (``core.numbers``)."""

    max_length = MAX_INPUT_LENGTH


CONVERTERS: dict[str, type[ColumnTextConverter]] = {
    "serial": SerialConverter,
    "repository_id": RepositoryIdConverter,
    "key_prefix": KeyPrefixConverter,
    "service": ServiceConverter,
    "number": NumberConverter,
}


def converters_register() -> None:
    """Make the converters known to ``path()`` under the names of :data:`CONVERTERS`, once."""
    known = get_converters()
    for name, converter in CONVERTERS.items():
        if name not in known:
            register_converter(converter, name)


converters_register()
