"""The files a TLS URL names are loaded at start, as its client would load them: one that cannot be used
is refused by option and path, and never prompts for, nor repeats, a key's password."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from workers.settings import VARIABLES, InvalidSettings, Settings

UNUSABLE = "unusable (a file its TLS options name cannot be used: "


@dataclasses.dataclass(frozen=True)
class Files:
    ca: Path
    cert: Path
    key: Path
    other_key: Path  # another certificate's
    encrypted_key: Path  # the certificate's, under the password "s3cret"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("tls-files")
    made = Files(*(folder / name for name in ("ca.pem", "cert.pem", "key.pem", "other.pem", "encrypted.pem")))
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(made.ca))
    client = ca.issue_cert("docfleet-worker")
    client.cert_chain_pems[0].write_to_path(str(made.cert))
    client.private_key_pem.write_to_path(str(made.key))
    ca.issue_cert("someone-else").private_key_pem.write_to_path(str(made.other_key))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    encryption = serialization.BestAvailableEncryption(b"s3cret")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    made.encrypted_key.write_bytes(pem)
    return made


def _refusal(monkeypatch: pytest.MonkeyPatch, name: str, url: str) -> str:
    monkeypatch.setenv(name, url)
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    assert "s3cret" not in str(refused.value)
    return refused.value.problems[0]


def _amqp(options: dict[str, str]) -> str:
    return f"amqps://guest:guest@h/%2F?ssl_options={quote(repr(options))}"


def test_a_valkey_client_certificate_that_loads_is_accepted(
    monkeypatch: pytest.MonkeyPatch, files: Files
) -> None:
    url = f"rediss://:pw@h:6380/0?ssl_ca_certs={files.ca}&ssl_certfile={files.cert}&ssl_keyfile={files.key}"
    monkeypatch.setenv("VALKEY_URL", url)
    assert Settings.from_env().valkey_url == url
    encrypted = f"{url.replace(str(files.key), str(files.encrypted_key))}&ssl_password=s3cret"
    monkeypatch.setenv("VALKEY_URL", encrypted)
    assert Settings.from_env().valkey_url == encrypted


def test_a_key_of_another_certificate_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch, files: Files
) -> None:
    url = f"rediss://:pw@h:6380/0?ssl_ca_certs={files.ca}&ssl_certfile={files.cert}&ssl_keyfile={files.other_key}"
    told = _refusal(monkeypatch, "VALKEY_URL", url)
    assert (
        f"{UNUSABLE}ssl_certfile {files.cert}, ssl_keyfile {files.other_key}: [X509: KEY_VALUES_MISMATCH]"
        in told
    )


@pytest.mark.parametrize("name", ["VALKEY_URL", "AMQP_URL"])
def test_an_encrypted_key_without_its_password_is_refused_rather_than_prompted_for(
    monkeypatch: pytest.MonkeyPatch, files: Files, name: str
) -> None:
    """OpenSSL would ask for the password on a terminal, holding every process at start."""
    if name == "VALKEY_URL":
        url = f"rediss://:pw@h:6380/0?ssl_certfile={files.cert}&ssl_keyfile={files.encrypted_key}"
        asked = "ssl_password"
    else:
        url = _amqp(
            {"ca_certs": str(files.ca), "certfile": str(files.cert), "keyfile": str(files.encrypted_key)}
        )
        asked = "password"
    told = _refusal(monkeypatch, name, url)
    assert told.endswith(f"keyfile {files.encrypted_key}: the key is encrypted; give its {asked})"), told


def test_a_file_pika_does_not_read_is_not_blamed(monkeypatch: pytest.MonkeyPatch, files: Files) -> None:
    """pika takes ``ca_certs`` before ``cafile``, and a ``keyfile`` only with a ``certfile``."""
    url = _amqp({"ca_certs": str(files.ca), "cafile": "/nowhere/ca.pem", "keyfile": "/nowhere/key.pem"})
    monkeypatch.setenv("AMQP_URL", url)
    assert Settings.from_env().amqp_url == url


def test_a_directory_named_as_a_file_is_refused_as_unreadable(
    monkeypatch: pytest.MonkeyPatch, files: Files
) -> None:
    told = _refusal(monkeypatch, "VALKEY_URL", f"rediss://:pw@h:6380/0?ssl_ca_certs={files.ca.parent}")
    assert told.startswith(f"VALKEY_URL: {UNUSABLE}ssl_ca_certs {files.ca.parent} cannot be read ("), told


def test_ssl_options_given_twice_are_refused_without_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """pika's own refusal would quote both values, a key's password among them."""
    options = quote(repr({"certfile": "/c.pem", "password": "s3cret"}))
    told = _refusal(
        monkeypatch, "AMQP_URL", f"amqps://guest:guest@h/%2F?ssl_options={options}&ssl_options={options}"
    )
    assert told == "AMQP_URL: unusable (options given more than once: ssl_options)"


def test_a_tls_option_on_a_plain_valkey_url_is_refused(monkeypatch: pytest.MonkeyPatch, files: Files) -> None:
    """A ``redis://`` connection takes no TLS option: it would fail every connection, the cache unused."""
    told = _refusal(monkeypatch, "VALKEY_URL", f"redis://:pw@h:6379/0?ssl_ca_certs={files.ca}")
    assert told.startswith("VALKEY_URL: unusable ("), told
    assert "ssl_ca_certs" in told, told


@pytest.mark.parametrize(
    ("query", "told"),
    [
        ("protocol=abc", "unusable (protocol must be an integer)"),
        (
            "ssl_check_hostname=true&ssl_cert_reqs=none",
            "unusable (ssl_check_hostname and ssl_cert_reqs disagree",
        ),
    ],
)
def test_valkey_options_its_connections_would_refuse_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, query: str, told: str
) -> None:
    scheme = "rediss" if "ssl_" in query else "redis"
    assert _refusal(monkeypatch, "VALKEY_URL", f"{scheme}://:pw@h:6379/0?{query}").startswith(
        f"VALKEY_URL: {told}"
    )


def test_each_kind_of_authority_is_named_apart(monkeypatch: pytest.MonkeyPatch, files: Files) -> None:
    """Certificates given inline are told by their option, not blamed on a CA file that loads."""
    url = f"rediss://:pw@h:6380/0?ssl_ca_certs={files.ca}&ssl_ca_data=garbage"
    told = _refusal(monkeypatch, "VALKEY_URL", url)
    assert told.startswith(f"VALKEY_URL: {UNUSABLE}ssl_ca_data: "), told


def test_a_path_that_is_no_string_is_refused_as_a_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A number is a file descriptor to ``open``: it must not be opened, and closed, as one."""
    told = _refusal(monkeypatch, "AMQP_URL", _amqp({"ca_certs": 2}))  # type: ignore[dict-item]
    assert told == f"AMQP_URL: {UNUSABLE}ca_certs 2 does not exist)"


def test_a_wrong_key_password_is_said_to_be_possibly_wrong(
    monkeypatch: pytest.MonkeyPatch, files: Files
) -> None:
    options = {"ca_certs": str(files.ca), "certfile": str(files.cert), "keyfile": str(files.encrypted_key)}
    told = _refusal(monkeypatch, "AMQP_URL", _amqp({**options, "password": ""}))
    assert told.endswith("(a key that is not PEM, or a wrong password))"), told
