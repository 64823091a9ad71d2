"""The fleet on services reached over TLS only, as managed Postgres, RabbitMQ and Valkey are: every URL
asks for the server's certificate to be verified, against a CA of the test's own, and with mutual TLS
names a client certificate too (the README's "Services over TLS")."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select

from adapters.postgres.engine import create_engine
from adapters.postgres.tables import audit_log
from adapters.rabbitmq.subscription import EventSubscription, ReceivedEvent
from tests.e2e.fleet import fleet_environment, running_fleet, wait_until_ready
from tests.e2e.test_cli import run_docfleet
from tests.e2e.tls_services import TlsServices, services_behind_tls
from tests.support.rabbitmq import consumer_count
from tests.support.waiting import wait_for
from workers.client import DocfleetClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls_services(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServices]:
    folder = tmp_path_factory.mktemp("tls")
    with services_behind_tls(database_url, folder, client_certificates=False) as services:
        yield services


@pytest.fixture(scope="module")
def mutual_tls_services(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServices]:
    """Services that each require a client certificate of their CA, as some managed offerings do."""
    folder = tmp_path_factory.mktemp("mutual-tls")
    with services_behind_tls(database_url, folder, client_certificates=True) as services:
        yield services


@pytest.mark.parametrize("services", ["tls_services", "mutual_tls_services"])
def test_a_share_goes_through_and_out_over_tls_alone(
    services: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    tls_services: TlsServices = request.getfixturevalue(services)
    settings = tls_services.settings
    suffix = uuid.uuid4().hex[:8]
    org, alice, bob, folder, doc = (f"{name}-{suffix}" for name in ("org", "alice", "bob", "f", "doc"))
    with running_fleet(settings, tmp_path, ("worker", "relay", "audit")) as process:
        wait_until_ready(process, settings.amqp_url, tmp_path / "fleet.log")
        wait_for(
            lambda: consumer_count(settings.amqp_url, settings.audit_queue) == 1, 30, "the audit consumer"
        )
        with (
            EventSubscription(settings.amqp_url, ["#"], name="tls-tap") as tap,
            DocfleetClient.from_settings(settings, name="tls-client") as client,
        ):
            # Each waits for the one before, as contract §4 asks: a membership is never waited for.
            client.add_member(org_id=org, user_id=alice)
            _next(tap, "MemberAdded")
            client.add_member(org_id=org, user_id=bob)
            _next(tap, "MemberAdded")
            client.create_folder(folder_id=folder, org_id=org, name="Reports", created_by=alice)
            _next(tap, "FolderCreated")
            client.upload_document(
                doc_id=doc,
                org_id=org,
                folder_id=folder,
                owner_id=alice,
                name="q3.pdf",
                mime_type="application/pdf",
                blob_uri=f"s3://tls-bucket/{doc}.pdf",
            )
            _next(tap, "DocumentUploaded")
            client.share_document(doc_id=doc, shared_by=alice, shared_with=bob, role="viewer")
            shared = _next(tap, "DocumentShared")
            page = client.list_folder(folder_id=folder, requested_by=bob)
        audited = wait_for(lambda: _audited_types(settings.database_url, doc), timeout=30, interval=0.5)
        health = run_docfleet(["health", "--json"], fleet_environment(settings))

    assert shared.payload()["document_id"] == doc
    assert [document.id for document in page.documents] == [doc]
    assert "DocumentShared" in audited, audited  # the audit consumer read doc.events over TLS too
    assert health.returncode == 0, health.stdout + health.stderr
    checks = {check["name"]: check for check in json.loads(health.stdout)}
    assert all(check["ok"] for check in checks.values()), health.stdout
    for service in ("Postgres", "RabbitMQ", "Valkey"):
        assert " reachable over TLS" in checks[service]["detail"], checks[service]
    unused = [name for name, front in tls_services.fronts.items() if front.sessions == 0]
    assert not unused, f"no TLS session reached {unused}: the test did not go through TLS"


def _next(tap: EventSubscription, kind: str) -> ReceivedEvent:
    """The next event, which must be of ``kind``: a refusal fails the test with its reason."""
    event = tap.next_event(30.0)
    assert event is not None, f"no {kind} within 30 s"
    assert event.type == kind, event.payload()
    return event


def _audited_types(database_url: str, doc: str) -> list[str]:
    """The types the audit log holds for ``doc``, once it holds its share; else an empty list."""
    engine = create_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            query = select(audit_log.c.type).where(audit_log.c.document_id == doc)
            types = list(connection.execute(query).scalars())
    finally:
        engine.dispose()
    return types if "DocumentShared" in types else []


def test_a_certificate_of_another_ca_is_refused_in_one_line(
    tls_services: TlsServices, tmp_path: Path
) -> None:
    """The same fronts, with each URL trusting another CA: each service is refused by its verification,
    and `docfleet health` says so on that service's row rather than in a traceback."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    trusted, settings = str(tls_services.ca_file), tls_services.settings
    untrusting = dataclasses.replace(
        settings,
        database_url=settings.database_url.replace(trusted, str(other_ca)),
        amqp_url=settings.amqp_url.replace(trusted, str(other_ca)),
        valkey_url=settings.valkey_url.replace(trusted, str(other_ca)),
    )
    assert untrusting.amqp_url != settings.amqp_url, "the CA's path was not found in the URL"

    health = run_docfleet(["health", "--json"], fleet_environment(untrusting))

    assert health.returncode != 0
    assert "Traceback" not in health.stderr, health.stderr
    checks = {check["name"]: check for check in json.loads(health.stdout)}
    for service in ("Postgres", "RabbitMQ", "Valkey"):
        assert not checks[service]["ok"], checks[service]
        assert "certificate verify failed" in checks[service]["detail"], checks[service]


def test_a_valkey_certificate_for_another_host_is_refused(tls_services: TlsServices) -> None:
    """Valkey's client checks a certificate's host name only when told; docfleet's are told, as libpq's
    ``verify-full`` and an ``amqps://`` connection check it, unless the URL says otherwise."""
    settings = tls_services.settings
    by_address = settings.valkey_url.replace("localhost", "127.0.0.1")  # the certificate names localhost
    unchecked = f"{by_address}&ssl_check_hostname=false"

    refused = run_docfleet(
        ["health", "--json"], fleet_environment(dataclasses.replace(settings, valkey_url=by_address))
    )
    allowed = run_docfleet(
        ["health", "--json"], fleet_environment(dataclasses.replace(settings, valkey_url=unchecked))
    )

    refused_check = {check["name"]: check for check in json.loads(refused.stdout)}["Valkey"]
    allowed_check = {check["name"]: check for check in json.loads(allowed.stdout)}["Valkey"]
    assert not refused_check["ok"], refused_check
    assert "mismatch" in refused_check["detail"], refused_check
    assert allowed_check["ok"], allowed_check


def test_a_valkey_url_that_requires_no_certificate_is_not_asked_for_its_host_name(
    tls_services: TlsServices,
) -> None:
    """``ssl_cert_reqs=none`` (as some managed offerings advise) with a host name check would be refused
    by Python on every connection: the check is asked for only where a certificate is required."""
    settings = tls_services.settings
    unverified = settings.valkey_url.split("?")[0] + "?ssl_cert_reqs=none"

    health = run_docfleet(
        ["health", "--json"], fleet_environment(dataclasses.replace(settings, valkey_url=unverified))
    )

    valkey_check = {check["name"]: check for check in json.loads(health.stdout)}["Valkey"]
    assert valkey_check["ok"], valkey_check


def test_a_service_that_requires_a_client_certificate_refuses_one_not_given_in_one_line(
    mutual_tls_services: TlsServices,
) -> None:
    """The URLs without their client certificate: each service's front refuses the handshake, and
    `docfleet health` says so on that service's row."""
    health = run_docfleet(["health", "--json"], fleet_environment(mutual_tls_services.uncertified))

    assert health.returncode != 0
    assert "Traceback" not in health.stderr, health.stderr
    checks = {check["name"]: check for check in json.loads(health.stdout)}
    told = {
        "Postgres": "requires a client certificate: name one in DATABASE_URL (sslcert, sslkey)",
        "RabbitMQ": "requires a client certificate: name one in AMQP_URL's ssl_options (certfile, keyfile)",
        "Valkey": "requires a client certificate: name one in VALKEY_URL (ssl_certfile, ssl_keyfile)",
    }
    for service, words in told.items():
        assert not checks[service]["ok"], checks[service]
        assert words in checks[service]["detail"], checks[service]
