"""The call seam: every gRPC call of a Flight client starts and runs through here.

One :class:`CallSeam` per client owns what each call needs and does it the same way for
unary, server-streaming and bidirectional calls:

- call options: the client's headers, its credential, the session cookies and the call's
  own headers as metadata, and the call's timeout (or the client's default);
- errors: every grpc error, on every await, read and write, becomes a
  :class:`~flightnb.errors.FlightError` (with the TLS hints of the channel's target);
- cookies: ``set-cookie`` in headers and trailers of every call, failed ones too, goes to
  the client's jar;
- issued credentials: an ``authorization`` header or trailer the client's server returns on
  any call becomes the client's credential for the next calls (see
  :class:`~flightnb.transport.auth.Credentials`), unless the call carried an
  ``authorization`` header of its own; endpoints on other servers issue nothing to it;
- one retry on UNAUTHENTICATED with a refreshed token wherever nothing can be duplicated:
  a unary call; a server stream that delivered nothing; an upload that the server rejected
  before answering anything, while all it wrote is still held for a replay (at most
  :data:`REPLAY_LIMIT_BYTES`, kept only until the first answer).

Besides channel creation (:mod:`flightnb.transport.channels`) this is the only module that
touches ``grpc.aio``. Requests and responses are bytes: the clients serialize and parse.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import grpc
import grpc.aio

from flightnb.errors import (
    FlightClientClosedError,
    FlightError,
    FlightServerError,
    FlightTimedOutError,
    FlightUnauthenticatedError,
    FlightUnauthorizedError,
)
from flightnb.transport.auth import CookieJar, Credentials, Headers, Metadata, normalize_headers
from flightnb.transport.channels import ChannelPool
from flightnb.transport.errors import translate_rpc_error
from flightnb.transport.locations import ChannelTarget

__all__ = [
    "LOST_STATUS",
    "REPLAY_LIMIT_BYTES",
    "SERVICE",
    "BidiStream",
    "CallSeam",
    "ServerStream",
    "has_authorization",
    "is_lost_status",
]

SERVICE = "/arrow.flight.protocol.FlightService/"
#: Bytes of an upload kept for a replay after an UNAUTHENTICATED rejection.
REPLAY_LIMIT_BYTES = 1 << 20
#: What grpcio reports when it dropped the server's status after a failed write.
LOST_STATUS = "Internal error from Core"


class CallSeam:
    """Starts the calls of one client; see the module docstring for what each call gets.

    Parameters
    ----------
    target : ChannelTarget
        The client's own server (calls without a target go there).
    channels : ChannelPool
        Where the channels come from.
    credentials : Credentials
        The client's login.
    headers : Metadata
        Headers for every call.
    timeout : float, optional
        Default per-call timeout in seconds.
    """

    def __init__(
        self,
        target: ChannelTarget,
        channels: ChannelPool,
        credentials: Credentials,
        *,
        headers: Metadata,
        timeout: float | None,
    ) -> None:
        self.target = target
        self.channels = channels
        self.credentials = credentials
        self.cookies = CookieJar()
        self.headers = headers
        self.timeout = timeout

    # --- call options ------------------------------------------------------------------

    def metadata(self, headers: Headers, *, authorize: bool = True) -> Metadata:
        """What a call sends as metadata: client headers, credential, cookies, call headers.

        A call's own ``authorization`` header replaces the client's credential on that call.
        """
        own = normalize_headers(headers)
        metadata = list(self.headers)
        if authorize and not has_authorization(own):
            metadata.extend(self.credentials.header())
        metadata.extend(self.cookies.header())
        metadata.extend(own)
        return metadata

    def observe(self, metadata: Any, *, adopt: bool) -> None:
        """Keep the cookies a server's headers or trailers set, and the credential it issued.

        ``adopt=False`` (the call carried its own credential) keeps only the cookies.
        """
        if not metadata:
            return
        self.cookies.observe(metadata)
        if adopt:
            for key, value in metadata:
                if str(key).lower() == "authorization":
                    text = value.decode(errors="replace") if isinstance(value, bytes) else value
                    if str(text).strip():
                        self.credentials.rotate(str(text).strip())

    def adopts(self, headers: Headers, *, authorize: bool = True) -> bool:
        """Whether a call with these options takes a credential the server returns."""
        return authorize and not has_authorization(normalize_headers(headers))

    def deadline(self, timeout: float | None) -> float | None:
        """The call's timeout: its own, else the client's default."""
        return self.timeout if timeout is None else timeout

    async def channel(self, target: ChannelTarget | None, timeout: float | None) -> Any:
        """The channel for ``target`` (default: the client's server), first token fetched."""
        await self.credentials.ensure()
        return await self.channels.get(target or self.target, self.deadline(timeout))

    # --- errors ------------------------------------------------------------------------

    def error(
        self, exc: BaseException, target: ChannelTarget | None, *, adopt: bool = True
    ) -> FlightError:
        """The FlightError for a failed call on ``target``; its cookies are kept too."""
        if isinstance(exc, asyncio.TimeoutError):
            return FlightTimedOutError("the call's deadline passed", code="DEADLINE_EXCEEDED")
        assert isinstance(exc, grpc.RpcError)
        if isinstance(exc, grpc.aio.AioRpcError):
            # A server may set a cookie (or issue a credential) while rejecting a call.
            self.observe(exc.initial_metadata(), adopt=adopt)
            self.observe(exc.trailing_metadata(), adopt=adopt)
        return translate_rpc_error(exc, self._hint_target(target))

    def raise_if_closed_under(self, exc: BaseException) -> None:
        """Raise FlightClientClosedError if ``exc`` is a call cut off by the client's close.

        Closing a channel cancels its calls, and grpc.aio then raises CancelledError in
        whatever awaits them: a reader left to read after its client's ``with`` block would
        take it for its own cancellation and end silently, leaving its consumer waiting. A
        CancelledError that is not the waiting task's own, once the client is closed, is
        that close; the caller's own cancellations pass through untouched.
        """
        if (
            isinstance(exc, asyncio.CancelledError)
            and self.channels.closed
            and not _being_cancelled()
        ):
            raise FlightClientClosedError(
                "the client was closed while this call ran; read a stream before "
                "closing the client it came from"
            ) from None

    def _hint_target(self, target: ChannelTarget | None) -> ChannelTarget:
        target = target or self.target
        override = self.channels.config.override_hostname
        if override:
            # The name the certificate was checked against, for "does not match host ...".
            return dataclasses.replace(target, host=override)
        return target

    async def may_retry(self, error: FlightError, rejected: Any) -> bool:
        """Whether a call that failed with ``error`` before delivering anything goes again.

        True when the server rejected the credential ``rejected`` and the token callable
        gave a new one (the caller checks that nothing could be duplicated).
        """
        return isinstance(error, FlightUnauthenticatedError) and await self.credentials.refresh(
            rejected
        )

    # --- the three call shapes ---------------------------------------------------------

    async def unary(
        self,
        method: str,
        request: bytes,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> bytes:
        """One request, one response (the response's bytes)."""
        adopt = self.adopts(headers)
        for retry in (False, True):
            channel = await self.channel(None, timeout)
            rejected = self.credentials.current
            call = channel.unary_unary(SERVICE + method)(
                request, metadata=self.metadata(headers), timeout=self.deadline(timeout)
            )
            try:
                response: bytes = await call
                self.observe(await call.initial_metadata(), adopt=adopt)
                self.observe(await call.trailing_metadata(), adopt=adopt)
            except (grpc.RpcError, asyncio.TimeoutError) as exc:
                error = self.error(exc, None, adopt=adopt)
                if retry or not await self.may_retry(error, rejected):
                    raise error from exc
                continue
            except BaseException as exc:
                call.cancel()
                self.raise_if_closed_under(exc)
                raise
            return response
        raise AssertionError("unreachable")

    def server_stream(
        self,
        method: str,
        request: bytes,
        *,
        target: ChannelTarget | None = None,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> ServerStream:
        """One request, a stream of responses; the call starts on the first read."""
        return ServerStream(self, method, request, target, timeout, headers)

    async def bidi(
        self,
        method: str,
        *,
        timeout: float | None = None,
        headers: Headers = None,
        extra_metadata: Metadata | None = None,
        authorize: bool = True,
        retry: bool = True,
    ) -> BidiStream:
        """A stream each way (DoPut, DoExchange, Handshake), started now.

        ``extra_metadata`` goes after the usual metadata; ``authorize=False`` leaves the
        credential out (a handshake brings its own); ``retry=False`` never replays.
        """
        stream = BidiStream(
            self, method, timeout, headers, list(extra_metadata or ()), authorize, retry
        )
        await stream.start()
        return stream


class ServerStream:
    """The responses of a server-streaming call: ``await read()`` until it returns None.

    The call starts on the first read. If the server rejects it as UNAUTHENTICATED before
    the first response, it is started again once with a refreshed token.
    """

    __slots__ = (
        "_adopt",
        "_call",
        "_finished",
        "_headers",
        "_method",
        "_received",
        "_rejected",
        "_request",
        "_retried",
        "_seam",
        "_target",
        "_timeout",
    )

    def __init__(
        self,
        seam: CallSeam,
        method: str,
        request: bytes,
        target: ChannelTarget | None,
        timeout: float | None,
        headers: Headers,
    ) -> None:
        self._seam = seam
        self._method = method
        self._request = request
        self._target = target
        self._timeout = timeout
        self._headers = headers
        # A credential another server issues (an endpoint elsewhere) is not this server's.
        self._adopt = seam.adopts(headers) and (target is None or target == seam.target)
        self._call: Any = None
        self._rejected: Any = None
        self._received = False
        self._retried = False
        self._finished = False

    async def _start(self) -> Any:
        seam = self._seam
        channel = await seam.channel(self._target, self._timeout)
        self._rejected = seam.credentials.current
        self._call = channel.unary_stream(SERVICE + self._method)(
            self._request,
            metadata=seam.metadata(self._headers),
            timeout=seam.deadline(self._timeout),
        )
        return self._call

    async def read(self) -> bytes | None:
        """The next response's bytes, or None at the end of the stream."""
        if self._finished:
            return None
        while True:
            call = self._call
            try:
                if call is None:
                    call = await self._start()
                message = await call.read()
            except (grpc.RpcError, asyncio.TimeoutError) as exc:
                self._finish()
                error = self._seam.error(exc, self._target, adopt=self._adopt)
                if self._received or self._retried:
                    raise error from exc
                self._retried = True
                if not await self._seam.may_retry(error, self._rejected):
                    raise error from exc
                self._call, self._finished = None, False
                continue
            except BaseException as exc:
                self.cancel()  # cancelled while waiting, or a bug: never leave the call open
                self._seam.raise_if_closed_under(exc)
                raise
            if message is grpc.aio.EOF:
                self._finished = True
                seam, adopt = self._seam, self._adopt
                if not self._received:
                    seam.observe(await call.initial_metadata(), adopt=adopt)
                seam.observe(await call.trailing_metadata(), adopt=adopt)
                return None
            if not self._received:
                self._received = True
                self._seam.observe(await call.initial_metadata(), adopt=self._adopt)
            return message  # type: ignore[no-any-return]

    def _finish(self) -> None:
        self._finished = True
        if self._call is not None:
            self._call.cancel()

    def cancel(self) -> None:
        """Cancel the call on the wire if it still runs; later reads return None."""
        self._finish()


class BidiStream:
    """A bidirectional call: ``write``, ``done_writing``, ``read`` until None, ``cancel``.

    If the server rejects the call as UNAUTHENTICATED before answering anything, while all
    that was written is still held (up to :data:`REPLAY_LIMIT_BYTES`), the call is opened
    again once with a refreshed token and what was written is sent again.
    """

    def __init__(
        self,
        seam: CallSeam,
        method: str,
        timeout: float | None,
        headers: Headers,
        extra_metadata: Metadata,
        authorize: bool,
        retry: bool,
    ) -> None:
        self._seam = seam
        self._method = method
        self._timeout = timeout
        self._headers = headers
        self._extra = extra_metadata
        self._authorize = authorize
        self._adopt = seam.adopts(headers, authorize=authorize)
        self._call: Any = None
        self._rejected: Any = None
        # What was written, for a replay; None once a replay is no longer possible.
        self._held: list[bytes] | None = [] if retry else None
        self._held_bytes = 0
        self._writing_done = False
        self._received = False
        self._finished = False
        #: Initial and trailing metadata of the server, once the call has ended.
        self.response_metadata: list[tuple[str, Any]] = []

    async def start(self) -> None:
        self._call = await self._open()

    async def _open(self) -> Any:
        seam = self._seam
        channel = await seam.channel(None, self._timeout)
        self._rejected = seam.credentials.current
        metadata = seam.metadata(self._headers, authorize=self._authorize) + self._extra
        return channel.stream_stream(SERVICE + self._method)(
            metadata=metadata, timeout=seam.deadline(self._timeout)
        )

    async def _explain(self, error: FlightError) -> FlightError:
        """``error``, or the server's real status if grpcio lost it (see :meth:`_probe`).

        Only a rejection of the credentials is taken from the probe: it answers for the
        call's metadata alone, while a refusal of the data (say, a table that exists) needs
        the data, which the probe does not send.
        """
        if is_lost_status(error) and not self._received:
            answer = await self._probe()
            if isinstance(answer, (FlightUnauthenticatedError, FlightUnauthorizedError)):
                return answer
        return error

    async def _replayable(self, error: FlightError) -> list[bytes] | None:
        """What to send again after ``error``, or None when the call must not be replayed.

        Only once, only before the server answered anything, only while everything written
        is still held, and only for a rejection a refreshed token may cure.
        """
        held, self._held = self._held, None
        if held is None or self._received:
            return None
        if not await self._seam.may_retry(error, self._rejected):
            return None
        return held

    async def _replay(self, held: list[bytes]) -> None:
        """Open the call again (with the refreshed token) and send ``held`` once more."""
        self._call.cancel()
        self._finished = False
        self._call = await self._open()
        for message in held:
            await self._mapped(self._send, message)
        if self._writing_done:
            await self._mapped(self._call_done_writing)

    async def _probe(self) -> FlightError | None:
        """The server's answer to this call's credentials, asked again without any data.

        grpcio loses the server's status when a write races the server's early rejection
        (the call then reports INTERNAL "Internal error from Core"). A call that writes
        nothing cannot race, so its status is the server's real answer (say UNAUTHENTICATED).
        None if the server accepted it: the lost status stays unexplained.
        """
        call = await self._open()
        try:
            await call.done_writing()
            while await call.read() is not grpc.aio.EOF:
                pass
        except (grpc.RpcError, asyncio.TimeoutError) as exc:
            return self._seam.error(exc, None, adopt=self._adopt)
        finally:
            call.cancel()
        return None

    async def _send(self, message: bytes) -> None:
        """Write one message; a write to a call the server ended raises the server's status.

        A write racing the server's final status fails with a transport-level error (an
        ``InvalidStateError``, or INTERNAL "execute_batch" from grpc core) that hides why the
        server stopped, e.g. UNAUTHENTICATED; the call's own status is the real answer.
        """
        call = self._call
        try:
            await _write(call, message)
        except (asyncio.InvalidStateError, grpc.RpcError, _SendFailed) as exc:
            status = await _final_status(call)
            if status is not None:
                raise status from exc
            if isinstance(exc, grpc.RpcError):
                raise
            raise _EndedWhileWriting from exc

    async def _mapped(self, operation: Any, *args: Any) -> Any:
        """Run one operation on the call; its failures come out as FlightErrors."""
        try:
            return await operation(*args)
        except (grpc.RpcError, asyncio.TimeoutError) as exc:
            self._finished = True
            raise self._seam.error(exc, None, adopt=self._adopt) from exc
        except _EndedWhileWriting as exc:
            self._finished = True
            raise FlightServerError(
                "the server ended the call while we were writing"
            ) from exc.__cause__
        except BaseException as exc:
            self.cancel()  # cancelled while waiting, or a bug: never leave the call open
            self._seam.raise_if_closed_under(exc)
            raise

    async def _run(self, operation: Any, *args: Any, again: bool = True) -> Any:
        """Run ``operation``; after a replay run it ``again`` (a replayed write is done)."""
        try:
            return await self._mapped(operation, *args)
        except FlightError as failure:
            error = await self._explain(failure)
            held = await self._replayable(error)
            if held is None:
                if error is failure:
                    raise
                raise error from failure
        try:
            await self._replay(held)
            return await self._mapped(operation, *args) if again else None
        except FlightError as failure:
            error = await self._explain(failure)
            if error is failure:
                raise
            raise error from failure

    async def write(self, message: bytes) -> None:
        """Send one message."""
        replay = self._held
        held = False
        if replay is not None:
            self._held_bytes += len(message)
            if self._held_bytes > REPLAY_LIMIT_BYTES:
                self._held = None
            else:
                replay.append(message)
                held = True
        await self._run(self._send, message, again=not held)

    async def done_writing(self) -> None:
        """Tell the server no more messages follow."""
        self._writing_done = True
        await self._run(self._call_done_writing)

    async def _call_done_writing(self) -> None:
        await self._call.done_writing()

    async def read(self) -> bytes | None:
        """The next response's bytes, or None once the server has finished."""
        if self._finished:
            return None
        message = await self._run(self._read_once)
        if message is grpc.aio.EOF:
            self._finished = True
            call = self._call
            self.response_metadata = [
                *(await call.initial_metadata() or ()),
                *(await call.trailing_metadata() or ()),
            ]
            if not self._received:
                self._seam.observe(await call.initial_metadata(), adopt=self._adopt)
            self._seam.observe(await call.trailing_metadata(), adopt=self._adopt)
            return None
        if not self._received:
            self._received = True
            self._held = None
            self._seam.observe(await self._call.initial_metadata(), adopt=self._adopt)
        return message  # type: ignore[no-any-return]

    async def _read_once(self) -> Any:
        return await self._call.read()

    def cancel(self) -> None:
        """Cancel the call on the wire if it still runs."""
        self._finished = True
        if self._call is not None:
            self._call.cancel()

    @property
    def finished(self) -> bool:
        return self._finished


def _being_cancelled() -> bool:
    """Whether the running task itself is being cancelled (always False before Python 3.11,
    which cannot tell)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() > 0


def has_authorization(metadata: Metadata) -> bool:
    """Whether ``metadata`` has an ``authorization`` header (keys already lower-case)."""
    return any(key == "authorization" for key, _ in metadata)


def is_lost_status(error: FlightError) -> bool:
    """Whether ``error`` is grpcio's stand-in for a server status it lost in a write race."""
    return error.code == "INTERNAL" and not error.trailers and LOST_STATUS in error.message


class _SendFailed(Exception):
    """grpc core could not send a message: the call ended (its status is on the way)."""


# grpcio's ``StreamStreamCall.write`` turns a failed send into the call's final status, an
# INTERNAL "Internal error from Core", before the server's own status (trailers it already
# sent, say ALREADY_EXISTS or UNAUTHENTICATED) is received: the real answer is lost in most
# uploads the server refuses while the client still writes (measured: 25 to 28 of 40). Below
# that method, the send itself leaves the status alone; we use it when grpcio has it, and
# the public method otherwise.
_CORE_INTERNAL_ERROR: type[BaseException] | None
try:
    from grpc._cython import cygrpc as _cygrpc

    _CORE_INTERNAL_ERROR = _cygrpc.InternalError
except (ImportError, AttributeError):  # pragma: no cover - another grpcio layout
    _CORE_INTERNAL_ERROR = None


async def _write(call: Any, message: bytes) -> None:
    """``call.write(message)``, without grpcio replacing the server's status on a failure."""
    core = getattr(call, "_cython_call", None)
    sent = getattr(call, "_metadata_sent", None)
    if _CORE_INTERNAL_ERROR is None or core is None or sent is None or call.done():
        await call.write(message)  # done: raises InvalidStateError, the status is kept
        return
    if not sent.is_set():
        await sent.wait()
        if call.done():
            raise _SendFailed("the call ended before its first message")
    try:
        await core.send_serialized_message(message)
    except _CORE_INTERNAL_ERROR as exc:
        raise _SendFailed(str(exc)) from exc
    except asyncio.CancelledError:
        call.cancel()
        raise


class _EndedWhileWriting(Exception):
    """A write failed and the call reports no error status of its own."""


async def _final_status(call: Any) -> grpc.aio.AioRpcError | None:
    """The error a finished call ended with, as grpc's own exception; None if it ended OK."""
    code = await call.code()
    if code == grpc.StatusCode.OK:
        return None
    return grpc.aio.AioRpcError(
        code,
        await call.initial_metadata(),
        await call.trailing_metadata(),
        await call.details(),
    )
