"""mkdocs hooks of the documentation site (mkdocs.yml ``hooks:``).

The docstrings are numpydoc, read by pyarrow, pandas and polars users in ``help()`` and IDEs,
and they cross-reference with Sphinx roles (``:class:`FlightError```). mkdocstrings renders
Markdown, where such a role shows up as ``:class:`` followed by code; this hook turns it into
the code alone (``~a.b.C`` as ``C``, as Sphinx would show it), and the ``::`` that opens a reST
literal block into ``:``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]*)</code>")
_LITERAL_BLOCK = re.compile(r"::</p>")


def _code(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Sphinx roles and reST literal-block markers, as the Markdown reader expects them."""
    return _LITERAL_BLOCK.sub(":</p>", _ROLE.sub(_code, html))
