"""What may be said of a service URL without its credentials."""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qs, urlsplit


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
