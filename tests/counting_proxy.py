"""A TCP proxy on loopback that counts what a client costs a server: connections and calls.

Tests put it between a client and a real server to count, without timing anything, the
exchanges a read makes before its data flows: TCP connections accepted, and (in plaintext)
the HTTP/2 requests, one per gRPC call, read from the frames the client sends. Each count is
taken before the bytes that caused it are passed on, so once the client has the answer to a
call, the call is counted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_FRAME_HEADER = 9
_HEADERS = 0x1
_CHUNK = 1 << 16


class _RequestCounter:
    """Reads the client's side of one HTTP/2 connection: a new stream's HEADERS is a call."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._preface_seen = False
        self._streams: set[int] = set()

    def feed(self, data: bytes) -> int:
        """How many new calls ``data`` starts."""
        self._buffer += data
        if not self._preface_seen:
            if len(self._buffer) < len(_PREFACE):
                return 0
            if bytes(self._buffer[: len(_PREFACE)]) != _PREFACE:
                raise ValueError("not an HTTP/2 client connection")
            del self._buffer[: len(_PREFACE)]
            self._preface_seen = True
        started = 0
        while len(self._buffer) >= _FRAME_HEADER:
            length = int.from_bytes(self._buffer[0:3], "big")
            if len(self._buffer) < _FRAME_HEADER + length:
                break
            kind = self._buffer[3]
            stream = int.from_bytes(self._buffer[5:9], "big") & 0x7FFF_FFFF
            if kind == _HEADERS and stream not in self._streams:
                self._streams.add(stream)
                started += 1
            del self._buffer[: _FRAME_HEADER + length]
        return started


class CountingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` and counts connections and calls.

    Parameters
    ----------
    upstream : str
        ``host:port`` of the server.
    http2 : bool
        Count HTTP/2 requests (plaintext only; over TLS only connections are counted).
    """

    def __init__(self, upstream: str, *, http2: bool = True) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._http2 = http2
        self._changed = threading.Condition()
        self.connections = 0
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        accept = threading.Thread(target=self._accept, name="counting-proxy", daemon=True)
        self._threads.append(accept)
        accept.start()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def uri(self, scheme: str = "grpc") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def counts(self) -> tuple[int, int]:
        """(connections accepted, HTTP/2 requests seen) so far."""
        with self._changed:
            return self.connections, self.requests

    def reset(self) -> None:
        with self._changed:
            self.connections = self.requests = 0

    def wait_connections(self, count: int, timeout: float) -> bool:
        """Block until ``count`` connections were accepted (True) or ``timeout`` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: self.connections >= count, timeout)

    def cut(self) -> None:
        """Close every connection open now, as a server or a NAT dropping idle ones does."""
        with self._changed:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        """Stop accepting, cut every connection and wait for the proxy's threads."""
        with self._changed:
            self._closed = True
            sockets = [self._listener, *self._sockets]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(30)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._changed:
                if self._closed:
                    client.close()
                    return
                self.connections += 1
                self._changed.notify_all()
            try:
                server = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            for sock in (client, server):  # forward small frames at once, as a router does
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._changed:
                self._sockets += [client, server]
            counter = _RequestCounter() if self._http2 else None
            for source, sink, count in ((client, server, counter), (server, client, None)):
                pump = threading.Thread(target=self._pump, args=(source, sink, count), daemon=True)
                with self._changed:
                    self._threads.append(pump)
                pump.start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, counter: _RequestCounter | None
    ) -> None:
        try:
            while data := source.recv(_CHUNK):
                if counter is not None:
                    started = counter.feed(data)
                    if started:
                        with self._changed:
                            self.requests += started
                            self._changed.notify_all()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
