"""TLS and mutual TLS on loopback with certificates generated for the test."""

from __future__ import annotations

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
    with pytest.raises(flightnb.FlightInvalidArgumentError, match="both"):
        flightnb.AsyncFlightClient("grpc+tls://127.0.0.1:1", cert_chain=pki["client"].certificate)
