"""A Griffe extension for the documentation site (mkdocs.yml, mkdocstrings ``extensions:``).

The blocking clients and readers declare most methods as twins of the async ones
(``write_parquet = blocking(AsyncFlightOperations.write_parquet)``, see
``flightnb/client/blocking.py``). At run time a twin is a function with the original's
signature and docstring, so ``help()`` shows it whole; read from the source, as mkdocstrings
reads it, it is a class attribute with no documentation. This extension turns each such
attribute into what it is at run time: a function with the original's parameters and
docstring, returning what the twin returns, or a property for ``blocking_property``,
``mirror`` and friends.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe

#: Twin makers taking the async method: what the twin returns, from the original's returns.
_METHOD_TWINS = {"blocking", "blocking_close", "blocking_iter", "on_loop"}
#: Twin makers called first with their own argument, then with the async method.
_CURRIED_TWINS = {"blocking_to", "blocking_as"}
#: Twin makers that make a property.
_PROPERTY_TWINS = {"blocking_property", "mirror"}

_NOTE = {
    "blocking": "Blocking: runs the async method of the same name on flightnb's loop thread and "
    "waits for it; a Ctrl-C cancels it.",
    "blocking_close": "Blocking: closes on flightnb's loop thread, and finishes closing even "
    "when interrupted.",
    "blocking_iter": "Blocking: an iterator that pulls each item on flightnb's loop thread.",
    "blocking_to": "Blocking: waits on flightnb's loop thread and returns the blocking twin "
    "of what the async method returns.",
    "blocking_as": "Blocking: waits on flightnb's loop thread and returns the blocking reader.",
    "on_loop": "Safe from any thread: scheduled on flightnb's loop thread, returns at once.",
}


def _name(expr: Any) -> str | None:
    return expr.name if isinstance(expr, griffe.ExprName) else None


def _literal(value: Any) -> str | None:
    """The text of a string literal as Griffe keeps it (with its quotes), else None."""
    if isinstance(value, str):
        try:
            text = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
        return text if isinstance(text, str) else None
    return None


def _keyword(call: griffe.ExprCall, name: str) -> Any:
    for argument in call.arguments:
        if isinstance(argument, griffe.ExprKeyword) and argument.name == name:
            return argument.value
    return None


def _original(owner: griffe.Class, expr: Any) -> griffe.Function | None:
    """The async method ``expr`` (``AsyncFlightClient.do_get``) names, seen from ``owner``."""
    if not isinstance(expr, griffe.ExprAttribute):
        return None
    try:
        found = owner.modules_collection[expr.canonical_path]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    if found.is_alias:
        found = found.final_target
    return found if isinstance(found, griffe.Function) else None


def _docstring(text: str, like: griffe.Docstring | None, parent: griffe.Object) -> griffe.Docstring:
    return griffe.Docstring(
        text,
        lineno=parent.lineno,
        endlineno=parent.endlineno,
        parent=parent,
        parser=like.parser if like is not None else None,
        parser_options=like.parser_options if like is not None else None,
    )


def _twin_function(
    attribute: griffe.Attribute, maker: str, original: griffe.Function, returns: Any
) -> griffe.Function:
    twin = griffe.Function(
        attribute.name,
        lineno=attribute.lineno,
        endlineno=attribute.endlineno,
        parameters=original.parameters,
        returns=returns,
    )
    body = original.docstring.value if original.docstring is not None else ""
    twin.docstring = _docstring(f"{_NOTE[maker]}\n\n{body}".strip(), original.docstring, twin)
    twin.labels = set(original.labels) - {"async"}
    return twin


def _twin_property(
    attribute: griffe.Attribute, doc: str | None, original: griffe.Function | None
) -> griffe.Attribute:
    like = original.docstring if original is not None else None
    text = doc or (like.value if like is not None else "")
    attribute.labels = {"property"}
    if original is not None:
        attribute.annotation = original.returns
    attribute.value = None
    attribute.docstring = _docstring(text, like, attribute) if text else None
    return attribute


def _convert(owner: griffe.Class, attribute: griffe.Attribute) -> griffe.Object | None:
    call = attribute.value
    if not isinstance(call, griffe.ExprCall) or not call.arguments:
        return None
    maker = _name(call.function)
    if maker in _PROPERTY_TWINS:
        doc = _literal(_keyword(call, "doc"))
        if doc is None and len(call.arguments) > 1:
            doc = _literal(call.arguments[1])
        original = _original(owner, call.arguments[0]) if maker == "blocking_property" else None
        return _twin_property(attribute, doc, original)
    if maker in _METHOD_TWINS:
        original = _original(owner, call.arguments[0])
        if original is None:
            return None
        returns: Any = original.returns
        if maker == "blocking_iter":
            returns = str(returns).replace("AsyncIterator", "Iterator", 1)
        return _twin_function(attribute, maker, original, returns)
    inner = call.function
    if not isinstance(inner, griffe.ExprCall) or not inner.arguments:
        return None
    maker = _name(inner.function)
    original = _original(owner, call.arguments[0])
    if maker not in _CURRIED_TWINS or original is None:
        return None
    if maker == "blocking_to":
        returns = inner.arguments[0]
    else:
        returns = _literal(inner.arguments[-1]) or original.returns
    return _twin_function(attribute, maker, original, returns)


def _classes(module: griffe.Module) -> list[griffe.Class]:
    found: list[griffe.Class] = []
    pending: list[griffe.Object] = [module]
    while pending:
        node = pending.pop()
        for member in node.members.values():
            if member.is_alias:
                continue
            if isinstance(member, griffe.Class):
                found.append(member)
                pending.append(member)
            elif isinstance(member, griffe.Module):
                pending.append(member)
    return found


class BlockingTwins(griffe.Extension):
    """Documents each blocking twin as the method (or property) it is at run time."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != "flightnb":
            return
        for owner in _classes(pkg):
            for name, member in list(owner.members.items()):
                if member.is_alias or not isinstance(member, griffe.Attribute):
                    continue
                converted = _convert(owner, member)
                if converted is not None and converted is not member:
                    owner.set_member(name, converted)
