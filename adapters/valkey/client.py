"""The Valkey client the caches share: short timeouts and no retries, because a cache that cannot answer
at once is treated as a miss rather than waited for."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import valkey
from valkey.backoff import NoBackoff
from valkey.retry import Retry

TLS_SCHEMES = ("rediss", "valkeys")

DEFAULT_SOCKET_TIMEOUT = 0.25
# Dramatiq runs 8 worker threads per process by default; each holds at most one connection at a time.
DEFAULT_MAX_CONNECTIONS = 16


def connect(
    url: str,
    *,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> valkey.Valkey:
    """A client on a lazily filled pool; nothing connects until the first command."""
    pool = valkey.BlockingConnectionPool.from_url(  # type: ignore[no-untyped-call]
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry_on_timeout=False,
        retry=Retry(NoBackoff(), 0),
        **host_name_checked(url),
    )
    return valkey.Valkey.from_pool(pool)


def single_client(url: str, *, timeout: float) -> valkey.Valkey:
    """A client of its own pool, waiting ``timeout`` seconds to connect and for each reply, for a results
    backend or a probe rather than the caches; a TLS URL's host name checked as ``connect``'s is."""
    return valkey.Valkey.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, **host_name_checked(url)
    )


def host_name_checked(url: str) -> dict[str, bool]:
    """For a TLS URL, that the server's certificate must name the URL's host, as libpq's ``verify-full``
    and an ``amqps://`` connection require: Valkey's client checks only the certificate's chain unless
    told. The URL's own ``ssl_check_hostname`` wins, as its options win over keyword arguments; so does
    an ``ssl_cert_reqs`` that asks for no certificate to be required (``none``, ``optional``), which a
    host name check would contradict (Python refuses the two together)."""
    parts = urlsplit(url)
    asked = parse_qs(parts.query).get("ssl_cert_reqs", ["required"])[0]  # the client reads the first
    required = asked == "required"
    return {"ssl_check_hostname": True} if parts.scheme in TLS_SCHEMES and required else {}
