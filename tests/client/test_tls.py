"""TLS and mutual TLS on loopback with certificates generated for the test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from certificates import issue, make_ca

import flightnb
from flightnb import read_flight

TABLE = pa.table({"x": pa.array(range(1000), pa.int64())})


class _TlsServer(paflight.FlightServerBase):
    def do_get(self, context: Any, ticket: Any) -> paflight.RecordBatchStream:
        return paflight.RecordBatchStream(TABLE)


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca, ca_cert, ca_key = make_ca()
    other_ca, _, _ = make_ca("some other CA")
    return {
        "ca": ca,
        "other_ca": other_ca,
        "localhost": issue(ca_cert, ca_key, "localhost", dns=("localhost",), ips=("127.0.0.1",)),
        "named": issue(ca_cert, ca_key, "flight.test", dns=("flight.test",)),
        "client": issue(ca_cert, ca_key, "notebook user", client=True),
    }


def _serve(keypair: Any, **options: Any) -> Iterator[str]:
    certificate = paflight.CertKeyPair(cert=keypair.certificate, key=keypair.private_key)
    server = _TlsServer("grpc+tls://127.0.0.1:0", tls_certificates=[certificate], **options)
    try:
        yield f"grpc+tls://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def tls_location(pki: dict[str, Any]) -> Iterator[str]:
    yield from _serve(pki["localhost"])


@pytest.fixture(scope="module")
def named_tls_location(pki: dict[str, Any]) -> Iterator[str]:
    yield from _serve(pki["named"])


@pytest.fixture(scope="module")
def mtls_location(pki: dict[str, Any]) -> Iterator[str]:
    yield from _serve(pki["localhost"], verify_client=True, root_certificates=pki["ca"].certificate)


def test_trusted_root(tls_location: str, pki: dict[str, Any]) -> None:
    got = read_flight(tls_location, ticket="x", tls_root_certs=pki["ca"].certificate)
    assert got.equals(TABLE)


def test_unknown_root_is_unavailable(tls_location: str, pki: dict[str, Any]) -> None:
    with pytest.raises(flightnb.FlightUnavailableError):
        read_flight(tls_location, ticket="x", tls_root_certs=pki["other_ca"].certificate)


def test_wrong_hostname_and_override(named_tls_location: str, pki: dict[str, Any]) -> None:
    roots = pki["ca"].certificate
    with pytest.raises(flightnb.FlightUnavailableError):
        read_flight(named_tls_location, ticket="x", tls_root_certs=roots)
    got = read_flight(
        named_tls_location, ticket="x", tls_root_certs=roots, override_hostname="flight.test"
    )
    assert got.equals(TABLE)


def test_disable_server_verification(named_tls_location: str) -> None:
    got = read_flight(named_tls_location, ticket="x", disable_server_verification=True)
    assert got.equals(TABLE)


def test_mutual_tls(mtls_location: str, pki: dict[str, Any]) -> None:
    roots = pki["ca"].certificate
    got = read_flight(
        mtls_location,
        ticket="x",
        tls_root_certs=roots,
        cert_chain=pki["client"].certificate,
        private_key=pki["client"].private_key,
    )
    assert got.equals(TABLE)
    with pytest.raises(flightnb.FlightUnavailableError):
        read_flight(mtls_location, ticket="x", tls_root_certs=roots)


def test_plaintext_client_to_tls_server(tls_location: str) -> None:
    with pytest.raises(flightnb.FlightUnavailableError):
        read_flight(tls_location.replace("grpc+tls", "grpc"), ticket="x", timeout=10)


def test_half_a_client_certificate_is_rejected(pki: dict[str, Any]) -> None:
    with pytest.raises(flightnb.FlightArgumentError, match="both"):
        flightnb.AsyncFlightClient("grpc+tls://127.0.0.1:1", cert_chain=pki["client"].certificate)


# --- failure messages that say which TLS mix-up it is --------------------------------------
#
# grpc reports every failed connection as UNAVAILABLE "failed to connect to all addresses;
# last error: ..." with the real reason buried in the tail (or, for a plaintext client talking
# to a TLS server, just "Socket closed"). flightnb puts the reason first and keeps grpc's text.


@pytest.fixture(scope="module")
def plaintext_location() -> Iterator[str]:
    server = _TlsServer("grpc://127.0.0.1:0")
    try:
        yield f"grpc://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


def _fail_both_ways(location: str, **options: Any) -> list[flightnb.FlightError]:
    """The errors of a unary call (GetFlightInfo) and of a stream (DoGet) to ``location``."""
    errors: list[flightnb.FlightError] = []
    with flightnb.FlightClient(location, timeout=10, **options) as client:
        with pytest.raises(flightnb.FlightUnavailableError) as unary:
            client.get_flight_info(flightnb.FlightDescriptor.for_path("x"))
        errors.append(unary.value)
        with pytest.raises(flightnb.FlightUnavailableError) as stream:
            client.do_get(b"x").read_all()
        errors.append(stream.value)
    return errors


def test_unknown_root_says_unknown_ca(tls_location: str, pki: dict[str, Any]) -> None:
    for error in _fail_both_ways(tls_location, tls_root_certs=pki["other_ca"].certificate):
        assert error.message.startswith("certificate not trusted / unknown CA")
        assert "tls_root_certs=" in error.message
        assert "CERTIFICATE_VERIFY_FAILED" in error.message  # grpc's own text is kept
        assert error.code == "UNAVAILABLE"


def test_wrong_hostname_names_the_host(named_tls_location: str, pki: dict[str, Any]) -> None:
    roots = pki["ca"].certificate
    for error in _fail_both_ways(named_tls_location, tls_root_certs=roots):
        assert error.message.startswith("certificate does not match host '127.0.0.1'")
        assert "override_hostname=" in error.message
        assert "Hostname Verification Check failed" in error.message
    # A wrong override is named as the host that did not match.
    for error in _fail_both_ways(
        named_tls_location, tls_root_certs=roots, override_hostname="wrong.test"
    ):
        assert error.message.startswith("certificate does not match host 'wrong.test'")


def test_plaintext_client_to_tls_server_says_use_tls(tls_location: str) -> None:
    location = tls_location.replace("grpc+tls://", "grpc://")
    for error in _fail_both_ways(location):
        assert "speaks TLS" in error.message
        assert f"use {tls_location}" in error.message
        assert "Socket closed" in error.message


def test_tls_client_to_plaintext_server_says_use_grpc(
    plaintext_location: str, pki: dict[str, Any]
) -> None:
    location = plaintext_location.replace("grpc://", "grpc+tls://")
    for options in ({"tls_root_certs": pki["ca"].certificate}, {}):
        for error in _fail_both_ways(location, **options):
            assert error.message.startswith(
                f"the server does not speak TLS: use {plaintext_location}"
            )
            assert "WRONG_VERSION_NUMBER" in error.message
    # disable_server_verification fetches the certificate itself first: same words.
    for error in _fail_both_ways(location, disable_server_verification=True):
        assert error.message.startswith(f"the server does not speak TLS: use {plaintext_location}")
        assert "could not fetch the TLS certificate" in error.message


def test_missing_client_certificate_is_suggested(mtls_location: str, pki: dict[str, Any]) -> None:
    for error in _fail_both_ways(mtls_location, tls_root_certs=pki["ca"].certificate):
        assert "client certificate" in error.message


def test_refused_connection_gets_no_tls_hint() -> None:
    for location in ("grpc://127.0.0.1:1", "grpc+tls://127.0.0.1:1"):
        for error in _fail_both_ways(location):
            assert error.message.startswith("failed to connect to all addresses")
            assert "TLS" not in error.message


def test_hints_work_for_async_clients(tls_location: str, pki: dict[str, Any]) -> None:
    async def main() -> None:
        client = flightnb.AsyncFlightClient(
            tls_location, tls_root_certs=pki["other_ca"].certificate, timeout=10
        )
        async with client:
            with pytest.raises(flightnb.FlightUnavailableError, match="unknown CA"):
                await client.list_actions()
            with pytest.raises(flightnb.FlightUnavailableError, match="unknown CA"):
                await client.do_get(b"x").read_all()

    asyncio.run(main())


def test_connection_hint_without_a_target() -> None:
    from flightnb.transport.errors import connection_hint

    assert connection_hint("... Hostname Verification Check failed.") == (
        "certificate does not match the host name: connect with a name the certificate lists, "
        'or use override_hostname="<that name>"'
    )
    assert connection_hint("SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER") == (
        "the server does not speak TLS: use grpc://"
    )
    # Without knowing the client spoke plaintext, "Socket closed" says nothing.
    assert connection_hint("failed to connect to all addresses; ...: Socket closed") is None
    assert connection_hint("CERTIFICATE_VERIFY_FAILED: certificate has expired") == (
        "certificate not trusted: the server presented a certificate that failed verification"
    )
