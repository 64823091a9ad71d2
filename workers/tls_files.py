"""The files a service URL's TLS options name, loaded at start as its client would load them, so that a
secret not mounted yet, or not the one meant, stops a process in one line naming the file.

Valkey's client loads them only as it connects, and a cache that cannot connect is taken for a miss;
pika loads them as it reads the URL, and both would let OpenSSL prompt on a terminal for an encrypted
key's missing password. Errors name options and paths, never a password."""

from __future__ import annotations

import ast
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Named = tuple[str, str]  # (the option, its path)


class UnusableTlsFile(ValueError):
    pass


class _EncryptedKey(Exception):
    pass


@dataclass(frozen=True)
class TlsFiles:
    ca: Named | None = None
    certificate: Named | None = None
    key: Named | None = None
    password: str | bytes | None = None
    password_option: str = "password"
    ca_path: Named | None = None  # a directory: OpenSSL reads it only as a certificate is checked
    ca_data: tuple[str, str | bytes] | None = None  # (the option, the certificates themselves)


def load(files: TlsFiles) -> None:
    """Raises ``UnusableTlsFile`` saying which file cannot be used, and why."""
    for named in (files.ca, files.certificate, files.key):
        if named is not None:
            _readable(*named)
    context = ssl.create_default_context()
    ca, ca_path, ca_data = files.ca, files.ca_path, files.ca_data
    if ca:
        _loading(_said(ca), lambda: context.load_verify_locations(cafile=ca[1]))
    if ca_path:
        _loading(_said(ca_path), lambda: context.load_verify_locations(capath=ca_path[1]))
    if ca_data:
        _loading(ca_data[0], lambda: context.load_verify_locations(cadata=ca_data[1]))
    if files.certificate or files.key:
        _load_certificate(context, files)


def _load_certificate(context: ssl.SSLContext, files: TlsFiles) -> None:
    named = ", ".join(_said(each) for each in (files.certificate, files.key) if each)
    if files.certificate is None:
        raise UnusableTlsFile(f"{named} is given without the certificate it is the key of")
    certificate, key, password = files.certificate[1], _path(files.key), files.password

    def no_password() -> str:
        raise _EncryptedKey

    try:
        context.load_cert_chain(certificate, key, password if password is not None else no_password)
    except _EncryptedKey:
        raise UnusableTlsFile(f"{named}: the key is encrypted; give its {files.password_option}") from None
    except ssl.SSLError as error:
        said = _reason(error)
        if password is not None and "PEM lib" in said:
            said += f" (a key that is not PEM, or a wrong {files.password_option})"
        raise UnusableTlsFile(f"{named}: {said}") from None


def _loading(label: str, load: Callable[[], None]) -> None:
    try:
        load()
    except (ssl.SSLError, ValueError, TypeError) as error:
        raise UnusableTlsFile(f"{label}: {_reason(error)}") from None


def _readable(option: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise UnusableTlsFile(f"{option} {path} does not exist") from None
    except OSError as error:  # a permission, a directory
        raise UnusableTlsFile(f"{option} {path} cannot be read ({error.strerror})") from None


def _path(named: Named | None) -> str | None:
    return None if named is None else named[1]


def _said(named: Named) -> str:
    return f"{named[0]} {named[1]}"


def _reason(error: Exception) -> str:
    """OpenSSL's words, without the line of Python's C source that raised them."""
    return str(error).split(" (_ssl.c")[0]


def valkey_files(connection: Any) -> TlsFiles:
    """The files of a valkey ``SSLConnection`` (not connected), as it will load them."""
    return TlsFiles(
        ca=_named("ssl_ca_certs", connection.ca_certs),
        certificate=_named("ssl_certfile", connection.certfile),
        key=_named("ssl_keyfile", connection.keyfile),
        password=connection.certificate_password,
        password_option="ssl_password",
        ca_path=_named("ssl_ca_path", connection.ca_path),
        ca_data=("ssl_ca_data", connection.ca_data) if connection.ca_data else None,
    )


def pika_files(ssl_options: str) -> TlsFiles | None:
    """The files an AMQP URL's ``ssl_options`` name, chosen as pika chooses them; ``None`` where the
    options are not a dict, which pika's own reading then tells."""
    try:
        options = ast.literal_eval(ssl_options)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(options, Mapping):
        return None
    ca = _named("ca_certs", options.get("ca_certs")) or _named("cafile", options.get("cafile"))
    ca_path = _named("ca_path", options.get("ca_path")) or _named("capath", options.get("capath"))
    ca_data = next(((name, options[name]) for name in ("ca_data", "cadata") if options.get(name)), None)
    certificate = _named("certfile", options.get("certfile"))
    return TlsFiles(
        ca=ca,
        certificate=certificate,
        key=_named("keyfile", options.get("keyfile")) if certificate else None,  # pika reads it only then
        password=options.get("password"),
        ca_path=ca_path,
        ca_data=ca_data,
    )


def _named(option: str, path: object) -> Named | None:
    return (option, str(path)) if path else None
