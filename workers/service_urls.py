"""The services' URLs: whether each client can use one, and what may be said of one without its
credentials."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from workers.tls_files import UnusableTlsFile, load, pika_files, valkey_files

POSTGRES_SCHEMES = ("postgresql+psycopg", "postgresql", "postgres")
AMQP_SCHEMES = ("amqp", "amqps")
VALKEY_SCHEMES = ("redis", "rediss", "valkey", "valkeys", "unix")


_MALFORMED = "malformed host or port (percent-encode any of : / ? # @ in the user name or password)"


def _split(url: str, schemes: tuple[str, ...], example: str) -> SplitResult:
    """The URL's parts, its port read; errors name no part of the URL, as they may hold the password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(_MALFORMED) from None
    if cut_short(url, parts):
        raise ValueError(_MALFORMED)
    if parts.scheme not in schemes:
        raise ValueError(f"expected a URL such as {example}")
    if port == 0:
        raise ValueError("port 0")
    return parts


def _client_reads(url: str, parts: SplitResult, read: Callable[[str], object]) -> None:
    """``read`` (a client's parser, and the loading of the files a TLS URL names: workers/tls_files.py)
    takes the URL; its complaint is told with the password hidden. A secret not mounted yet is told
    here, at start, in one line. A ``SyntaxError`` (``ssl_options`` not a dict literal) is told by its
    message alone: its text, which may hold a key's password, is not repeated."""
    try:
        read(url)
    except UnusableTlsFile as error:
        complaint = f"a file its TLS options name cannot be used: {error}"
    except (ValueError, IndexError, TypeError, AttributeError, SyntaxError) as error:
        complaint = str(error)
    except OSError as error:  # ssl.SSLError too, from what pika reads beyond the files
        complaint = f"its TLS options cannot be used: {error}"
    else:
        return
    if parts.password:
        complaint = complaint.replace(parts.password, "***")
    raise ValueError(f"unusable ({complaint})") from None


def check_postgres_url(url: str) -> str:
    """``url``, if libpq can use it; else ``ValueError`` saying why, never with the password."""
    parts = _split(url, POSTGRES_SCHEMES, "postgresql+psycopg://user@host:5432/name")
    if parts.netloc.count("@") > 1:  # SQLAlchemy splits at the first: the password's rest would be the host
        raise ValueError(_MALFORMED)
    if not parts.hostname and "host" not in parse_qs(parts.query):
        raise ValueError("names no host (nor a ?host= socket directory)")
    if not parts.path.strip("/"):
        raise ValueError("names no database")
    _client_reads(url, parts, _libpq_reads)
    return url


def _libpq_reads(url: str) -> None:
    """libpq's reading of the connection string the processes will build: an option it does not know
    (``?foo=bar``) is refused here, not at every connection. Option values are read when connecting."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.exc import ArgumentError

    from adapters.postgres.engine import libpq_conninfo

    try:
        conninfo_to_dict(libpq_conninfo(url))
    except (psycopg.Error, ArgumentError) as error:
        raise ValueError(str(error).strip()) from None


def check_amqp_url(url: str) -> str:
    """``url``, if RabbitMQ's client can use it; else ``ValueError`` saying why, never with the password."""
    import pika  # its reading of the URL, options included: the one the processes will make

    if ";" in url:
        # Dramatiq reads a ";" as a list of URLs, the relay and the CLI do not: each would go elsewhere.
        raise ValueError(
            "a ';' (several hosts, or a password not percent-encoded: write ; as %3B): one host only;"
            " for several, put a load balancer or one DNS name in front"
        )
    parts = _split(url, AMQP_SCHEMES, "amqp://user:password@host:5672/%2F")
    _client_reads(url, parts, lambda url: _pika_reads(url, pika.URLParameters))
    return url


def _pika_reads(url: str, read: Callable[[str], object]) -> None:
    """pika's reading of the URL, after the files its ``ssl_options`` name are loaded here: pika would
    have OpenSSL prompt for an encrypted key's missing password. An option given twice is refused by
    name alone: pika's refusal quotes every value, a key's password among them."""
    options = parse_qs(urlsplit(url).query)  # as pika parses them
    repeated = sorted(option for option, values in options.items() if len(values) > 1)
    if repeated:
        raise ValueError(f"options given more than once: {', '.join(repeated)}")
    files = pika_files(options["ssl_options"][0]) if "ssl_options" in options else None
    if files is not None:
        load(files)
    read(url)


def check_valkey_url(url: str) -> str:
    """``url``, if Valkey's client can use it; else ``ValueError`` saying why, never with the password."""
    parts = _split(url, VALKEY_SCHEMES, "redis://host:6379/0")
    database = unquote(parts.path).replace("/", "")  # as the client reads it
    # The client ignores a database index it cannot read as a number, and uses database 0 unsaid.
    if parts.scheme != "unix" and database and not (database.isascii() and database.isdigit()):
        raise ValueError("the database index after the port is not a number (redis://host:6379/0)")
    _client_reads(url, parts, _valkey_reads)
    return url


def _valkey_reads(url: str) -> None:
    """Valkey's client's reading of the URL, the connection it would make built (options it does not
    take are told here, not at every connection) and, for TLS, the files its options name loaded."""
    import valkey

    pool = valkey.ConnectionPool.from_url(url)  # type: ignore[no-untyped-call]
    try:
        connection = pool.connection_class(**pool.connection_kwargs)  # it connects to nothing yet
    except TypeError:
        raise  # an option it does not take, named in the error
    except Exception as error:  # e.g. a protocol it cannot read, raised under an error of its own
        first = error.__context__ if isinstance(error, UnboundLocalError) and error.__context__ else error
        raise ValueError(str(first)) from None
    if isinstance(connection, valkey.SSLConnection):
        _valkey_verification(connection)
        load(valkey_files(connection))


def _valkey_verification(connection: Any) -> None:
    """The URL's ``ssl_check_hostname`` and ``ssl_cert_reqs`` set as the client sets them: a host name
    check with no certificate required fails every connection."""
    context = ssl.create_default_context()
    try:
        context.check_hostname = connection.check_hostname
        context.verify_mode = connection.cert_reqs
    except ValueError as error:
        raise ValueError(f"ssl_check_hostname and ssl_cert_reqs disagree: {error}") from None


def cut_short(url: str, parts: SplitResult) -> bool:
    """Whether a ``/ ? #`` in the user name or password ended the URL's host part early, so that what
    reads as its host and port may be the credentials."""
    return "@" in url and "@" not in parts.netloc


def location(url: str, *, default_port: int | None = None) -> str:
    """host:port/path of a service URL, without its credentials: what an error may name. A Postgres URL's
    Unix socket directory stands for its host; a port that cannot be read is shown as written."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    if cut_short(url, parts):  # what reads as the host and port may be the password
        return "(a malformed URL)"
    try:
        port: object = parts.port or default_port or "-"
    except ValueError:
        port = parts.netloc.rpartition(":")[2]
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
    return f"{host}:{port}{parts.path}"
