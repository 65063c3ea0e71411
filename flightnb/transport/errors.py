"""The one place where gRPC's errors become flightnb's."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]

from flightnb.errors import (
    FlightDecodeError,
    FlightError,
    error_class_for_code,
)
from flightnb.transport.locations import ChannelTarget

_DETAILS_KEY = "grpc-status-details-bin"
_ARROW_DETAIL_KEY = "x-arrow-status-detail-bin"
_ARROW_CODE_KEY = "x-arrow-status"
_ARROW_MESSAGE_KEY = "x-arrow-status-message-bin"
# Never copied into an error: they may carry credentials.
_SECRET_KEYS = ("authorization", "auth-token-bin", "cookie", "set-cookie", "x-api-key")

# A well-formed multi-byte UTF-8 sequence (without the overlong/surrogate fine print).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)

M = TypeVar("M")


def _metadata_pairs(exc: grpc.RpcError) -> list[tuple[str, Any]]:
    try:
        trailers = exc.trailing_metadata()
    except Exception:
        return []
    return [(str(k), v) for k, v in (trailers or ())]


def repair_details(message: str | bytes) -> str:
    """The status message as text, with bytes that are not UTF-8 replaced by U+FFFD.

    grpc's Python layer decodes a ``grpc-message`` that is not valid UTF-8 as Latin-1 (so
    no byte is lost). That is right for a server that writes Latin-1, but turns a UTF-8
    message with a few bad bytes into mojibake (``"cafÃ©"``). When the Latin-1 reading
    contains well-formed multi-byte UTF-8 sequences the server meant UTF-8: decode it as
    UTF-8 and replace only the bad bytes.
    """
    if isinstance(message, bytes):
        return message.decode("utf-8", errors="replace")
    try:
        raw = message.encode("latin-1")
    except UnicodeEncodeError:
        return message  # characters past U+00FF: grpc decoded valid UTF-8
    if raw.isascii() or not _UTF8_MULTIBYTE.search(raw):
        return message
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")
    # Valid UTF-8 whose characters are all below U+0100 (e.g. "Ã©"): grpc would have
    # decoded these bytes as UTF-8 already, so the text is exactly what the server sent.
    return message


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")


def _arrow_code(value: Any) -> int | None:
    try:
        return int(value.decode("ascii") if isinstance(value, bytes) else value)
    except (ValueError, UnicodeDecodeError):
        return None


# What grpc core says (in details() and debug_error_string()) when a connection fails in the
# TLS handshake. The texts come from BoringSSL/OpenSSL and grpc's security connector.
_UNKNOWN_CA = re.compile(
    r"unable to get local issuer certificate|self[- ]signed certificate|unknown ca", re.I
)
_NOT_TRUSTED = re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed", re.I)
_WRONG_HOST = re.compile(r"Hostname Verification Check failed|No match found for server name", re.I)
_NOT_TLS = re.compile(r"WRONG_VERSION_NUMBER|wrong version number", re.I)
_CLOSED_AT_CONNECT = re.compile(r"failed to connect to all addresses.*Socket closed", re.I | re.S)


def connection_hint(text: str, target: ChannelTarget | None = None) -> str | None:
    """Why a connection failed, in words, when grpc's ``text`` shows a TLS mix-up; else None.

    ``target`` (where the client connected, and whether with TLS) sharpens the hint; the
    cases where the client spoke TLS are recognised without it. A plaintext client talking
    to a TLS server only sees "Socket closed", so that case needs ``target``.
    """
    where = target.target if target is not None else "the server"
    if _WRONG_HOST.search(text):
        host = f"host {target.host!r}" if target is not None and target.host else "the host name"
        return (
            f"certificate does not match {host}: connect with a name the certificate lists, "
            'or use override_hostname="<that name>"'
        )
    if _UNKNOWN_CA.search(text):
        return (
            f"certificate not trusted / unknown CA: {where} presented a certificate not signed "
            "by the roots in tls_root_certs= (or the system's); pass its CA certificate as "
            "tls_root_certs=, or disable_server_verification=True for a test server"
        )
    if _NOT_TRUSTED.search(text):
        return f"certificate not trusted: {where} presented a certificate that failed verification"
    if _NOT_TLS.search(text):
        uri = f"grpc://{target.target}" if target is not None else "grpc://"
        return f"the server does not speak TLS: use {uri}"
    if target is not None and not target.tls and target.host and _CLOSED_AT_CONNECT.search(text):
        return (
            "the server probably speaks TLS (it closed the plaintext connection at once, as TLS "
            f"servers do): use grpc+tls://{target.target}"
        )
    if target is not None and target.tls and _CLOSED_AT_CONNECT.search(text):
        return (
            "the server closed the connection in the TLS handshake: it may want a client "
            "certificate (cert_chain=, private_key=) or refuse the one sent"
        )
    return None


# What servers on pyarrow.flight append to a status message: the Python traceback of the
# handler's exception, or the name of a Flight status code (arrow::flight::FlightStatusDetail).
_PYARROW_SUFFIX = re.compile(
    r"\. Detail: (?:Python exception: .*"
    r"|(?:Internal|TimedOut|Cancelled|Unauthenticated|Unauthorized|Unavailable|Failed)\s*)\Z",
    re.S,
)


def translate_rpc_error(exc: grpc.RpcError, target: ChannelTarget | None = None) -> FlightError:
    """A :class:`FlightError` for a failed gRPC call, with the server's message and trailers.

    ``target`` is the channel the call used; with it, connection failures caused by a TLS
    mix-up say which (see :func:`connection_hint`) before grpc's own text.

    Servers built on ``pyarrow.flight`` append ``". Detail: Python exception: Traceback ..."``
    (or ``". Detail: Failed"`` and the like) to their messages; the error's message is the
    server's text without it, and ``detail`` keeps the whole text.
    """
    try:
        code = exc.code()
        message = exc.details() or ""
    except Exception:
        code, message = grpc.StatusCode.UNKNOWN, str(exc)
    code_name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    extra_info = arrow_detail = arrow_message = None
    arrow_code = None
    trailers: dict[str, str | bytes] = {}
    for key, value in _metadata_pairs(exc):
        lowered = key.lower()
        if lowered in _SECRET_KEYS:
            continue
        if lowered == _DETAILS_KEY:
            extra_info = _as_bytes(value)
            continue
        if lowered == _ARROW_DETAIL_KEY:
            arrow_detail = _as_bytes(value)
            continue
        if lowered == _ARROW_CODE_KEY:
            arrow_code = _arrow_code(value)
        elif lowered == _ARROW_MESSAGE_KEY:
            arrow_message = _as_bytes(value).decode("utf-8", errors="replace")
        trailers[lowered] = value
    detail = text = repair_details(message)
    if arrow_message and text.startswith(arrow_message + ". Detail: "):
        text = arrow_message  # an Arrow server's own message, sent apart from its detail
    else:
        text = _PYARROW_SUFFIX.sub("", text)
    text = text.rstrip() or detail
    if code_name == "UNAVAILABLE":
        hint = connection_hint(f"{text}\n{_debug_text(exc)}", target)
        if hint is not None:
            text = f"{hint} (gRPC: {text})"
    error_class = error_class_for_code(code_name)
    return error_class(
        text,
        code=code_name,
        extra_info=extra_info,
        arrow_detail=arrow_detail,
        arrow_code=arrow_code,
        arrow_message=arrow_message,
        trailers=trailers,
        detail=detail,
    )


def _debug_text(exc: grpc.RpcError) -> str:
    try:
        return str(exc.debug_error_string() or "")
    except Exception:
        return ""


def parse_response(message_type: type[M], data: bytes) -> M:
    """Parse a serialized protobuf response; bytes that do not parse are a FlightDecodeError.

    Calls hand grpc no deserializer and parse here instead: grpc logs a failed
    deserializer's traceback and returns ``None`` in place of the message.
    """
    try:
        return message_type.FromString(data)  # type: ignore[attr-defined, no-any-return]
    except (DecodeError, ValueError, TypeError) as exc:
        name = getattr(message_type, "__name__", "response")
        raise FlightDecodeError(f"not a valid {name} message: {exc}", where=name) from exc
