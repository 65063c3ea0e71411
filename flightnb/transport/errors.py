"""The one place where gRPC's errors become flightnb's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from flightnb.errors import FlightError, FlightTimedOutError, error_class_for_code

_DETAILS_KEY = "grpc-status-details-bin"
_ARROW_DETAIL_KEY = "x-arrow-status-detail-bin"
# Never copied into an error: they may carry credentials.
_SECRET_KEYS = ("authorization", "auth-token-bin", "cookie", "set-cookie", "x-api-key")


def _metadata_pairs(exc: grpc.RpcError) -> list[tuple[str, Any]]:
    try:
        trailers = exc.trailing_metadata()  # type: ignore[attr-defined]
    except Exception:
        return []
    return [(str(k), v) for k, v in (trailers or ())]


def translate_rpc_error(exc: grpc.RpcError) -> FlightError:
    """A :class:`FlightError` for a failed gRPC call, with the server's message and trailers."""
    try:
        code = exc.code()  # type: ignore[attr-defined]
        message = exc.details() or ""  # type: ignore[attr-defined]
    except Exception:
        code, message = grpc.StatusCode.UNKNOWN, str(exc)
    code_name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    extra_info = arrow_detail = None
    trailers: dict[str, str | bytes] = {}
    for key, value in _metadata_pairs(exc):
        lowered = key.lower()
        if lowered == _DETAILS_KEY:
            extra_info = bytes(value)
        elif lowered == _ARROW_DETAIL_KEY:
            arrow_detail = bytes(value)
        elif lowered not in _SECRET_KEYS:
            trailers[lowered] = value
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    error_class = error_class_for_code(code_name)
    return error_class(
        message,
        code=code_name,
        extra_info=extra_info,
        arrow_detail=arrow_detail,
        trailers=trailers,
    )


@contextmanager
def map_grpc_errors() -> Iterator[None]:
    """Re-raise gRPC errors inside the block as :class:`FlightError` subclasses."""
    try:
        yield
    except grpc.RpcError as exc:
        raise translate_rpc_error(exc) from exc
    except asyncio.TimeoutError as exc:
        raise FlightTimedOutError("the call's deadline passed", code="DEADLINE_EXCEEDED") from exc
