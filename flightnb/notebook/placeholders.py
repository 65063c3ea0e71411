"""``:name`` placeholders in notebook SQL, bound as real query parameters.

``SELECT * FROM trips WHERE city = :city`` becomes ``... WHERE city = ?`` with the value of
``city`` from the notebook bound as an Arrow parameter: values never enter the SQL text.
String literals, quoted identifiers, comments and ``::`` casts are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKENS = re.compile(
    r"""
    (?P<skip>
        '(?:[^']|'')*'            # string literal
      | "(?:[^"]|"")*"            # quoted identifier
      | --[^\n]*                  # line comment
      | /\*.*?\*/                 # block comment
      | ::                        # cast operator
    )
    | (?<![:\w]):(?P<name>[A-Za-z_]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)


class MissingParameterError(KeyError):
    """A ``:name`` placeholder has no variable of that name."""


def bind_placeholders(sql: str, namespace: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """Replace ``:name`` placeholders with ``?`` and return the values in order."""
    values: list[Any] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            return match.group(0)
        if name not in namespace:
            raise MissingParameterError(name)
        values.append(namespace[name])
        return "?"

    return _TOKENS.sub(replace, sql), values
