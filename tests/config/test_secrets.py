"""SecretResolver and check_secrets: values resolve as SecretStr and never appear in a message."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import SecretRef, SecretResolver, check_secrets, load_tenants, secret_refs
from reconciler.errors import SecretError

VALUE = "s3cr3t-VALUE-never-shown"


def env(name: str) -> SecretRef:
    return SecretRef(env=name)


def file(path: str) -> SecretRef:
    return SecretRef(file=path)


def test_env_resolves_to_a_secretstr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    value = SecretResolver(Path("."), environ={"X": VALUE}).resolve(env("X"))
    assert value.get_secret_value() == VALUE
    assert VALUE not in repr(value) and VALUE not in str(value)
    assert VALUE not in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "environment variable MISSING is not set (needed by integration.sso_password)"),
        ({"MISSING": "  "}, "environment variable MISSING is empty (needed by integration.sso_password)"),
    ],
)
def test_env_missing_or_empty(environ: dict[str, str], expected: str) -> None:
    resolver = SecretResolver(Path("."), environ=environ)
    with pytest.raises(SecretError) as caught:
        resolver.resolve(env("MISSING"), key="integration.sso_password")
    assert caught.value.message == expected


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILE_TEST_SECRET", VALUE)
    assert SecretResolver(Path(".")).resolve(env("RECONCILE_TEST_SECRET")).get_secret_value() == VALUE


def test_file_relative_to_the_tenant_folder_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw").write_text(f"\n{VALUE}\n", encoding="utf-8")
    assert SecretResolver(tmp_path).resolve(file("secrets/pw")).get_secret_value() == VALUE
    assert (
        SecretResolver(Path("/nowhere")).resolve(file(str(tmp_path / "secrets/pw"))).get_secret_value()
        == VALUE
    )


def test_file_problems_name_the_path_not_the_content(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path)
    (tmp_path / "empty").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "binary").write_bytes(b"\xff\xfe" + VALUE.encode())
    (tmp_path / "dir").mkdir()
    cases = {
        "nope": f"secret file {tmp_path / 'nope'} does not exist (needed by k)",
        "empty": f"secret file {tmp_path / 'empty'} is empty (needed by k)",
        "binary": f"secret file {tmp_path / 'binary'} is not UTF-8 text (needed by k)",
        "dir": f"secret file {tmp_path / 'dir'} is not a file (needed by k)",
    }
    for name, expected in cases.items():
        with pytest.raises(SecretError) as caught:
            resolver.resolve(file(name), key="k")
        assert caught.value.message == expected
        assert VALUE not in caught.value.message


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PermissionError(13, "Permission denied"), "cannot be read: permission denied"),
        (IsADirectoryError(21, "Is a directory"), "cannot be read: Is a directory"),
    ],
)
def test_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, expected: str
) -> None:
    # Simulated: the tests may run as root, who can read a file with mode 000.
    secret = tmp_path / "locked"
    secret.write_text(VALUE, encoding="utf-8")

    def refuse(self: Path, *args: Any, **kwargs: Any) -> str:
        raise error

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(SecretError) as caught:
        SecretResolver(tmp_path).resolve(file("locked"))
    assert caught.value.message == f"secret file {secret} {expected}"


def test_overrides_win_and_are_not_shown(tmp_path: Path) -> None:
    resolver = SecretResolver(
        tmp_path, overrides={"env:X": VALUE, "file:k.pem": "pem"}, environ={"X": "other"}
    )
    assert resolver.resolve(env("X")).get_secret_value() == VALUE
    assert resolver.resolve(file("k.pem")).get_secret_value() == "pem"
    assert VALUE not in repr(resolver)
    with pytest.raises(SecretError, match="the override for secret env:Y is empty"):
        SecretResolver(tmp_path, overrides={"env:Y": ""}).resolve(env("Y"))


def test_secret_refs_finds_every_reference(write_tree: Any, acme: str) -> None:
    tenant = load_tenants([write_tree({"t/acme/tenant.yaml": acme}) / "t"])[0]
    assert [(".".join(map(str, p)), r.ref) for p, r in secret_refs(tenant.model)] == [
        ("connection.dynamics.credential.client_secret", "env:ACME_CLIENT_SECRET"),
        ("connection.rescue.authcode", "env:ACME_RESCUE_AUTHCODE"),
        ("integration.sso_password", "env:ACME_SSO_PASSWORD"),
    ]


def test_check_secrets_locates_each_failure(write_tree: Any, acme: str) -> None:
    root = write_tree({"t/acme/tenant.yaml": acme})
    tenant = load_tenants([root / "t"])[0]
    resolver = SecretResolver(tenant.folder, environ={"ACME_RESCUE_AUTHCODE": VALUE})
    found = [str(p) for p in check_secrets(tenant, resolver)]
    assert found == [
        f"{root}/t/acme/tenant.yaml:8:22: connection.dynamics.credential.client_secret: "
        "environment variable ACME_CLIENT_SECRET is not set",
        f"{root}/t/acme/tenant.yaml:16:17: integration.sso_password: environment variable ACME_SSO_PASSWORD is not set",
    ]


def test_federated_token_variable_must_name_an_existing_file(write_tree: Any, acme: str) -> None:
    text = acme.replace(
        "client_secret: {env: ACME_CLIENT_SECRET}", "federated_token_file: {env: ACME_TOKEN_FILE}"
    )
    root = write_tree({"t/acme/tenant.yaml": text, "token": "jwt"})
    tenant = load_tenants([root / "t"])[0]
    base = {"ACME_RESCUE_AUTHCODE": "a", "ACME_SSO_PASSWORD": "b"}
    good = SecretResolver(tenant.folder, environ={**base, "ACME_TOKEN_FILE": str(root / "token")})
    assert check_secrets(tenant, good) == []
    bad = SecretResolver(tenant.folder, environ={**base, "ACME_TOKEN_FILE": str(root / "gone")})
    assert [p.message for p in check_secrets(tenant, bad)] == [
        f"environment variable ACME_TOKEN_FILE names the federated token file {root / 'gone'}, which does not exist"
    ]
