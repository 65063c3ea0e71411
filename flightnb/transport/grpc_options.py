"""Extra gRPC channel arguments given by the user (``grpc_options=``), checked and merged.

gRPC channel arguments are ``(name, value)`` pairs whose values are integers or strings;
grpc core ignores a name it does not know and fails late, or not at all, on a value of the
wrong type. The user's arguments are checked here once, when a client is made, so a mistake
is one clear line at the call that made it, and they are merged over flightnb's own
arguments: where both name the same argument, the user's value wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

__all__ = ["GrpcOptionValue", "GrpcOptions", "check_grpc_options", "merge_grpc_options"]

#: The value of one gRPC channel argument.
GrpcOptionValue: TypeAlias = int | str
#: What ``grpc_options=`` takes: a mapping, or a sequence of ``(name, value)`` pairs.
GrpcOptions: TypeAlias = Mapping[str, GrpcOptionValue] | Sequence[tuple[str, GrpcOptionValue]]


def check_grpc_options(options: object) -> tuple[tuple[str, GrpcOptionValue], ...]:
    """``options`` as a tuple of ``(name, value)`` pairs, or a one-line TypeError/ValueError.

    Parameters
    ----------
    options : mapping or sequence of (str, int or str) pairs, or None
        gRPC channel arguments such as ``{"grpc.keepalive_time_ms": 30_000}``. A bool is
        taken as the integer 0 or 1.

    Returns
    -------
    tuple of (str, int or str)
        In the order given; a later pair naming the same argument replaces an earlier one.

    Examples
    --------
    >>> check_grpc_options({"grpc.keepalive_time_ms": 30_000})
    (('grpc.keepalive_time_ms', 30000),)
    >>> check_grpc_options([("grpc.http_proxy", 1.5)])
    Traceback (most recent call last):
    ...
    TypeError: grpc_options: the value of 'grpc.http_proxy' must be an int or a str, not float
    """
    if options is None:
        return ()
    pairs: Iterable[object]
    if isinstance(options, Mapping):
        pairs = options.items()
    elif isinstance(options, (str, bytes)) or not isinstance(options, (Sequence, Iterable)):
        raise TypeError(
            "grpc_options must be a mapping or a sequence of (name, value) pairs, "
            f"not {type(options).__name__}"
        )
    else:
        pairs = options
    checked: dict[str, GrpcOptionValue] = {}
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            # Say what it is, not its value: a proxy URL may carry a password.
            shape = f"a tuple of {len(pair)}" if isinstance(pair, tuple) else type(pair).__name__
            raise TypeError(f"grpc_options: each item must be a (name, value) pair, not {shape}")
        name, value = pair
        if not isinstance(name, str) or not name:
            raise TypeError(f"grpc_options: a name must be a non-empty str, not {name!r}")
        if isinstance(value, bool):
            value = int(value)
        elif not isinstance(value, (int, str)):
            raise TypeError(
                f"grpc_options: the value of {name!r} must be an int or a str, "
                f"not {type(value).__name__}"
            )
        if isinstance(value, int) and not -(2**31) <= value < 2**31:
            raise ValueError(f"grpc_options: the value of {name!r} must fit in 32 bits: {value}")
        checked.pop(name, None)
        checked[name] = value
    return tuple(checked.items())


def merge_grpc_options(
    defaults: Iterable[tuple[str, GrpcOptionValue]],
    extra: Iterable[tuple[str, GrpcOptionValue]],
) -> list[tuple[str, GrpcOptionValue]]:
    """flightnb's ``defaults`` with the user's ``extra`` over them: each name once, extra wins.

    Examples
    --------
    >>> merge_grpc_options([("a", 1), ("b", 2)], [("b", 3), ("c", "x")])
    [('a', 1), ('b', 3), ('c', 'x')]
    """
    merged = dict(defaults)
    merged.update(extra)
    return list(merged.items())
