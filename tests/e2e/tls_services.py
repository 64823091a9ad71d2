"""The machine's services behind TLS fronts of a throwaway CA, as managed Postgres, RabbitMQ and Valkey are
reached, with every URL asking for the server's certificate to be verified. With ``client_certificates``
each front also requires a certificate of that CA from the client (mutual TLS), and the URLs name one."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import trustme

from tests.support.services import default_settings, throwaway_key_prefix, throwaway_vhost
from tests.support.tls_front import TlsFront, tls_front
from workers.settings import Settings


@dataclasses.dataclass(frozen=True)
class TlsServices:
    settings: Settings
    fronts: dict[str, TlsFront]
    ca_file: Path
    uncertified: Settings  # the same URLs without a client certificate


@dataclasses.dataclass(frozen=True)
class ClientCertificate:
    cert_file: Path
    key_file: Path


@contextmanager
def services_behind_tls(
    database_url: str, folder: Path, *, client_certificates: bool
) -> Iterator[TlsServices]:
    ca = trustme.CA()
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client = _client_certificate(ca, folder) if client_certificates else None
    context = _server_context(ca, client_certificates=client_certificates)
    base = default_settings()
    with (
        throwaway_vhost(base.amqp_url) as amqp_url,
        throwaway_key_prefix(base.valkey_url) as prefix,
        tls_front(urlsplit(database_url).port or 5432, context, postgres=True) as postgres,
        tls_front(urlsplit(amqp_url).port or 5672, context) as rabbitmq,
        tls_front(urlsplit(base.valkey_url).port or 6379, context) as valkey,
    ):
        plain = dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=prefix)
        fronts = {"Postgres": postgres, "RabbitMQ": rabbitmq, "Valkey": valkey}
        yield TlsServices(
            settings=_urls_behind(plain, fronts, ca_file, client),
            fronts=fronts,
            ca_file=ca_file,
            uncertified=_urls_behind(plain, fronts, ca_file, None),
        )


def _client_certificate(ca: trustme.CA, folder: Path) -> ClientCertificate:
    issued = ca.issue_cert("docfleet-fleet")
    certificate = ClientCertificate(folder / "client.pem", folder / "client.key")
    issued.cert_chain_pems[0].write_to_path(str(certificate.cert_file))
    issued.private_key_pem.write_to_path(str(certificate.key_file))
    certificate.key_file.chmod(0o600)  # libpq refuses a key others may read
    return certificate


def _server_context(ca: trustme.CA, *, client_certificates: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    if client_certificates:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _urls_behind(
    plain: Settings, fronts: dict[str, TlsFront], ca_file: Path, client: ClientCertificate | None
) -> Settings:
    postgres_query = f"sslmode=verify-full&sslrootcert={ca_file}"
    pika_options: dict[str, str] = {"ca_certs": str(ca_file)}
    valkey_query = f"ssl_ca_certs={ca_file}"
    if client is not None:
        postgres_query += f"&sslcert={client.cert_file}&sslkey={client.key_file}"
        pika_options |= {"certfile": str(client.cert_file), "keyfile": str(client.key_file)}
        valkey_query += f"&ssl_certfile={client.cert_file}&ssl_keyfile={client.key_file}"
    amqp_query = f"ssl_options={quote(repr(pika_options))}"
    return dataclasses.replace(
        plain,
        database_url=_behind(plain.database_url, fronts["Postgres"], "postgresql+psycopg", postgres_query),
        amqp_url=_behind(plain.amqp_url, fronts["RabbitMQ"], "amqps", amqp_query),
        valkey_url=_behind(plain.valkey_url, fronts["Valkey"], "rediss", valkey_query),
    )


def _behind(url: str, front: TlsFront, scheme: str, query: str) -> str:
    """``url`` with its host and port the front's, as a client names a managed service."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@localhost:{front.port}" if credentials else f"localhost:{front.port}"
    return parts._replace(scheme=scheme, netloc=netloc, query=query).geturl()
