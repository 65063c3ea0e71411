"""Opening grpc.aio channels for Flight locations, with TLS and size options."""

from __future__ import annotations

import asyncio
import socket
import ssl
from contextlib import suppress
from dataclasses import dataclass, field

import grpc
import grpc.aio

from flightnb import _tracking
from flightnb.errors import (
    FlightArgumentError,
    FlightClientClosedError,
    FlightUnavailableError,
)
from flightnb.transport.errors import connection_hint
from flightnb.transport.grpc_options import GrpcOptionValue, merge_grpc_options
from flightnb.transport.locations import ChannelTarget

MAX_METADATA_BYTES = 1 << 20
RECONNECT_BACKOFF_INITIAL_MS = 100
RECONNECT_BACKOFF_MAX_MS = 1000
#: The HTTP/2 receive window of each stream: what a server may send before the client reads,
#: and so what one stream moves per round trip (see _grpc_options).
STREAM_WINDOW_BYTES = 16 << 20
#: How long a call waits for a channel that lost its server to connect again (see
#: :meth:`ChannelPool.get`); the channels' reconnect backoff is at most 1 s.
RECONNECT_WAIT_SECONDS = 2.0
_CONNECTED_ONCE = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.IDLE)


@dataclass(frozen=True)
class ChannelConfig:
    """How every channel of one client is opened."""

    tls_root_certs: bytes | None = field(default=None, repr=False)
    cert_chain: bytes | None = field(default=None, repr=False)
    private_key: bytes | None = field(default=None, repr=False)
    override_hostname: str | None = None
    disable_server_verification: bool = False
    #: -1 means unlimited; grpcio's own default is 4 MiB, smaller than many servers' batches.
    max_receive_message_size: int = -1
    max_send_message_size: int = -1
    #: The user's gRPC channel arguments (``grpc_options=``), checked; they win over ours.
    #: Not shown: a proxy URL (``grpc.http_proxy``) may carry a password.
    extra_options: tuple[tuple[str, GrpcOptionValue], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if (self.cert_chain is None) != (self.private_key is None):
            raise FlightArgumentError("mutual TLS needs both cert_chain and private_key")


def _grpc_options(
    config: ChannelConfig, override_hostname: str | None
) -> list[tuple[str, GrpcOptionValue]]:
    options: list[tuple[str, GrpcOptionValue]] = [
        ("grpc.max_receive_message_length", config.max_receive_message_size),
        ("grpc.max_send_message_length", config.max_send_message_size),
        # grpc's default (8 KiB soft, 16 KiB hard) refuses the large trailers some servers
        # send with errors (Arrow status details, stack traces); accept up to 1 MiB.
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
        # After a failed connection attempt grpc backs off before the next one (1 s, growing
        # to 120 s) and fails every call at once meanwhile, so a server that was down for a
        # few minutes stays "unavailable" for up to two more after it is back. Cap the backoff
        # at 1 s: the channel reconnects within about a second of the server's return.
        ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_INITIAL_MS),
        ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MAX_MS),
        # A fixed window per stream instead of grpc's bandwidth probing, which grows the
        # window with measured throughput until a server may push hundreds of MiB the client
        # has not asked for: a streaming read's memory bound (max_buffer_bytes plus about
        # two windows per stream, see client/batch_stream.py) would not hold. The window is
        # what one stream may have in flight per round trip: 16 MiB is 168 MB/s at 100 ms
        # (1.3 Gbit/s), full from the first round trip where probing starts at 64 KiB and
        # ramps up; 4 MiB (40 MB/s at 100 ms) read at half pyarrow.flight's speed over an
        # 800 Mbit/s, 100 ms link.
        # grpc_options= may set another ("grpc.http2.lookahead_bytes"); the default
        # concurrency counts this one (STREAM_WINDOW_BYTES) against the budget.
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", STREAM_WINDOW_BYTES),
    ]
    if override_hostname:
        options.append(("grpc.ssl_target_name_override", override_hostname))
    return merge_grpc_options(options, config.extra_options)


def _der_bytes(certificate: object) -> bytes:
    if isinstance(certificate, bytes):
        return certificate
    # Python < 3.13 hands out _ssl.Certificate objects from the private chain accessor.
    der: bytes = certificate.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
    return der


def _fetch_server_certificate(host: str, port: int) -> tuple[bytes, str | None]:
    """The server's certificate chain (PEM) and a name it is valid for, unverified.

    Used only for ``disable_server_verification``: gRPC's Python API has no switch to skip
    verification, so we trust exactly the chain the server presents.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        private = getattr(tls, "_sslobj", None)
        chain_getter = getattr(tls, "get_unverified_chain", None) or getattr(
            private, "get_unverified_chain", None
        )
        chain = [_der_bytes(c) for c in (chain_getter() if chain_getter else [])]
        if not chain:
            chain = [tls.getpeercert(binary_form=True) or b""]
    pem = "".join(ssl.DER_cert_to_PEM_cert(der) for der in chain).encode()
    return pem, _certificate_name(chain[0])


def _certificate_name(der: bytes) -> str | None:
    try:
        from cryptography import x509
    except ImportError:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
        if dns:
            return str(dns[0])
    except x509.ExtensionNotFound:
        pass
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else None


async def open_channel(target: ChannelTarget, config: ChannelConfig) -> grpc.aio.Channel:
    """A new channel to ``target``; must be called on the loop that will use it."""
    if not target.tls:
        return grpc.aio.insecure_channel(target.target, options=_grpc_options(config, None))
    root_certs = config.tls_root_certs
    override = config.override_hostname
    if config.disable_server_verification:
        host, _, port = target.target.rpartition(":")
        try:
            root_certs, name = await asyncio.to_thread(
                _fetch_server_certificate, host.strip("[]"), int(port)
            )
        except OSError as exc:
            message = f"could not fetch the TLS certificate of {target}: {exc}"
            hint = connection_hint(str(exc), target)
            raise FlightUnavailableError(
                f"{hint} ({message})" if hint else message, code="UNAVAILABLE"
            ) from exc
        override = override or name
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root_certs,
        private_key=config.private_key,
        certificate_chain=config.cert_chain,
    )
    return grpc.aio.secure_channel(
        target.target, credentials, options=_grpc_options(config, override)
    )


class ChannelPool:
    """The channels of one client, one per target, opened on first use and closed together.

    Must be used from one event loop: grpc.aio channels belong to the loop that made them.
    """

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self._channels: dict[str, grpc.aio.Channel] = {}
        # Targets whose channel has had a connection: only those wait for a reconnect.
        self._reconnectable: set[str] = set()
        self._closed = False
        # Where and when the client was made, for flightnb._tracking (which tells tests of
        # leaks): its channels open later, on first use.
        self._site = _tracking.caller_site()
        self._group = _tracking.new_group()
        self._tracked: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._channels)

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(self, target: ChannelTarget, wait_bound: float | None) -> grpc.aio.Channel:
        """The channel for ``target``, opened now if it is the first call there.

        Once a connection attempt has failed (a call made while the server restarts), grpc
        fails every call at once until its reconnect backoff expires, so the first call
        after the server is back would fail with UNAVAILABLE. A channel that has been
        connected before therefore waits up to :data:`RECONNECT_WAIT_SECONDS` (at most
        ``wait_bound``) for the channel to be ready, then the call goes out; if the server
        is still away, it fails as before. Nothing is sent twice. A channel that never
        connected (wrong address, server not up) does not wait: it fails fast.
        """
        if self._closed:
            raise FlightClientClosedError("the client is closed")
        channel = self._channels.get(target.target)
        if channel is None:
            return await self._open(target)
        state = channel.get_state()
        if state in _CONNECTED_ONCE:
            # IDLE on a channel we have used: it had a connection that the server closed.
            self._reconnectable.add(target.target)
        elif (
            state is grpc.ChannelConnectivity.TRANSIENT_FAILURE
            and target.target in self._reconnectable
        ):
            wait = (
                RECONNECT_WAIT_SECONDS
                if wait_bound is None
                else min(RECONNECT_WAIT_SECONDS, wait_bound)
            )
            # Still away after that: the call goes out and fails with UNAVAILABLE.
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(channel.channel_ready(), wait)
        # CONNECTING: grpc queues the call until the attempt resolves.
        return channel

    async def connect_ahead(self, target: ChannelTarget) -> None:
        """Open the channel for ``target`` and start its connection, before any call.

        A read whose later endpoints wait for a free stream opens their channels as soon as
        it knows them, so the TCP (and TLS) handshakes are done by the time their DoGets go
        out. Sends nothing but the handshakes: no call, no credential. A channel already
        open is only woken if idle.
        """
        if self._closed:
            return
        channel = self._channels.get(target.target)
        if channel is None:
            channel = await self._open(target)
        channel.get_state(try_to_connect=True)

    def wake_idle(self, skip: ChannelTarget) -> None:
        """Start reconnecting every idle channel but ``skip``'s (no call, no credential).

        A client that read from several locations keeps a channel to each; when a server
        or a NAT closed an idle connection, the channel waits for a call to reconnect. Woken
        while the planning call (GetFlightInfo) is in flight, those to the locations the next
        endpoints likely name are up again by the time their DoGets go out. Only locations
        this client has used before: a new one is not known until the plan names it.
        """
        for target, channel in self._channels.items():
            if target != skip.target and channel.get_state() is grpc.ChannelConnectivity.IDLE:
                channel.get_state(try_to_connect=True)

    async def _open(self, target: ChannelTarget) -> grpc.aio.Channel:
        channel = await open_channel(target, self.config)
        # Opening may await (a certificate fetch): another call may have opened the same
        # target meanwhile, or the client closed. Keep one channel; close what is not kept.
        kept = self._channels.get(target.target)
        if self._closed or kept is not None:
            await channel.close()
            if kept is None:
                raise FlightClientClosedError("the client is closed")
            return kept
        self._channels[target.target] = channel
        self._tracked[target.target] = _tracking.opened(
            self,
            "gRPC channel",
            f"gRPC channel to {target.target}",
            self._site,
            group=self._group,
        )
        return channel

    async def close(self) -> None:
        """Close every channel; later calls raise FlightClientClosedError."""
        self._closed = True
        channels, self._channels = self._channels, {}
        self._reconnectable.clear()
        for target, channel in channels.items():
            await channel.close()
            _tracking.closed(self._tracked.pop(target))
