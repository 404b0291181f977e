"""The hosts a tenant file may send the tenant's credentials or data to: an allow-list per cloud.

A tenant file names where its services are (`connection.dynamics.org_url`,
`connection.dynamics.authority_host`, `connection.rescue.api_url`), and the reconciler sends
the tenant's secrets there: the client secret or assertion to the authority, the authcode to
the Rescue API, the access token to the org. The integration settings say where the data
goes: the endpoint the Dynamics solution calls (written to the row that also holds the company
SSO password) and the URL each technician group posts its session details to. A pull request
that edits one tenant file could point those at a host of its own and collect them, so only
the services' own hosts are accepted. Anything else needs an operator allowance that the pull request cannot edit: the
``RECONCILE_ALLOW_HOSTS`` environment variable or ``--allow-host`` (never a tenant file or
``_defaults.yaml``). Sources for every host are in docs/gitops.md, "Service hosts".

Pure: no I/O; the CLI reads the allowance and passes it in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reconciler.config.problems import dotted
from reconciler.config.text import excerpt
from reconciler.config.vault_refs import vault_references
from reconciler.config.yamlpos import YamlPath
from reconciler.errors import InputError, Location, Problem

# Microsoft Entra ID authority hosts per cloud (Microsoft Learn, "National clouds"; MSAL
# Python's WELL_KNOWN_AUTHORITY_HOSTS). Azure Germany (login.microsoftonline.de) closed in 2021.
ENTRA_AUTHORITY_HOSTS: Mapping[str, frozenset[str]] = {
    "global": frozenset({"login.microsoftonline.com", "login.microsoft.com", "login.windows.net"}),
    "us-government": frozenset({"login.microsoftonline.us", "login.usgovcloudapi.net"}),
    "china": frozenset({"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}),
}

# Dataverse org domains per cloud (Microsoft Learn, "Datacenter regions" and "Discover user
# organizations"): `<org>.crm<N>.dynamics.com` in the commercial cloud and GCC (crm9), and one
# domain each for GCC High, DoD and China. `<org>.api.crm...` is the same org's API host.
DATAVERSE_ORG_DOMAINS: Mapping[str, re.Pattern[str]] = {
    "commercial and GCC": re.compile(r"^[a-z0-9-]+(\.api)?\.crm[0-9]{0,2}\.dynamics\.com$"),
    "GCC High": re.compile(r"^[a-z0-9-]+(\.api)?\.crm\.microsoftdynamics\.us$"),
    "DoD": re.compile(r"^[a-z0-9-]+(\.api)?\.crm\.appsplatform\.us$"),
    "China": re.compile(r"^[a-z0-9-]+(\.api)?\.crm\.dynamics\.cn$"),
}

# LogMeIn Rescue API hosts: the documented one, and the EU and Enterprise data centres
# (unverified for the API: docs/gitops.md).
RESCUE_API_HOSTS: frozenset[str] = frozenset(
    {"secure.logmeinrescue.com", "secure.logmeinrescue.eu", "secure.logmeinrescue-enterprise.com"}
)

# Azure Key Vault DNS suffixes per cloud, and the resource a vault token is asked for
# (Microsoft Learn, "About Azure Key Vault keys, secrets and certificates", "DNS suffixes for
# objects, identifiers, and authorization"; Azure Germany's vault.microsoftazure.de closed with
# its cloud in 2021). A vault host is `<vault name>.<suffix>`.
KEY_VAULT_SUFFIXES: Mapping[str, str] = {
    "global": "vault.azure.net",
    "china": "vault.azure.cn",
    "us-government": "vault.usgovcloudapi.net",
}


def key_vault_resource(vault_url: str) -> str | None:
    """The token resource of a vault URL's cloud (``https://vault.azure.net``), None when its
    host is no Key Vault host."""
    host = (urlsplit(vault_url).hostname or "").lower()
    for suffix in KEY_VAULT_SUFFIXES.values():
        if host.endswith("." + suffix) and "." not in host[: -len(suffix) - 1]:
            return f"https://{suffix}"
    return None


ALLOW_HOSTS_ENV = "RECONCILE_ALLOW_HOSTS"
_ALLOWANCE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$")


@dataclass(frozen=True)
class HostAllowance:
    """Hosts the operator allows beyond the allow-list (``host`` or ``host:port``)."""

    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, values: Iterable[str]) -> HostAllowance:
        """``--allow-host`` values and ``RECONCILE_ALLOW_HOSTS`` (comma or space separated)."""
        hosts: set[str] = set()
        for value in values:
            for item in re.split(r"[\s,]+", value.strip()):
                if not item:
                    continue
                host = item.lower()
                if not _ALLOWANCE_RE.fullmatch(host):
                    raise InputError(
                        f"--allow-host / {ALLOW_HOSTS_ENV}: {excerpt(item)} is not a host name "
                        "(write host or host:port, no scheme or path)"
                    )
                hosts.add(host)
        return cls(frozenset(hosts))

    def allows(self, host: str, port: int | None) -> bool:
        return (host if port is None else f"{host}:{port}") in self.hosts


NO_ALLOWANCE = HostAllowance()


# The LogMeIn Rescue integration service for Dynamics, per instance (production, beta): the
# endpoint the solution's configuration window pre-fills and the solution calls
# (`integration.endpoint`), and the URL a technician group posts session details to
# (`rescue_groups[].export.url`, the vendor's help: `https://dynamics.logmeinrescue.com/api/integration`).
INTEGRATION_HOSTS: frozenset[str] = frozenset(
    {"dynamics.logmeinrescue.com", "dynamicsbeta.logmeinrescue.com"}
)


def _known(service: str, host: str) -> bool:
    if service == "dataverse":
        return any(p.fullmatch(host) for p in DATAVERSE_ORG_DOMAINS.values())
    if service == "entra":
        return any(host in hosts for hosts in ENTRA_AUTHORITY_HOSTS.values())
    if service == "integration":
        return host in INTEGRATION_HOSTS
    if service == "keyvault":
        return key_vault_resource(f"https://{host}") is not None
    return host in RESCUE_API_HOSTS


@dataclass(frozen=True)
class _Setting:
    """A URL setting: where it is (``*`` is every item of a list or mapping), which service's
    hosts it may name, what those are, and what would be sent to another host."""

    pattern: YamlPath
    service: str
    what: str
    exposes: str


_CREDENTIALS = "the tenant's credentials would be sent there"
_INTEGRATION = "the LogMeIn Rescue integration for Dynamics (" + ", ".join(sorted(INTEGRATION_HOSTS)) + ")"
_CALLED = (
    "the Dynamics solution would call it, and the same row holds the company SSO password "
    "(the solution profile's default endpoint needs no setting)"
)
_POSTED = "Rescue would post every session's details (technician, customer fields, chat log) there"

_SETTINGS: tuple[_Setting, ...] = (
    _Setting(
        ("connection", "dynamics", "org_url"),
        "dataverse",
        "a Dataverse org (e.g. contoso.crm4.dynamics.com)",
        _CREDENTIALS,
    ),
    _Setting(
        ("connection", "dynamics", "authority_host"),
        "entra",
        "a Microsoft Entra ID authority ("
        + ", ".join(sorted(set().union(*ENTRA_AUTHORITY_HOSTS.values())))
        + ")",
        _CREDENTIALS,
    ),
    _Setting(
        ("connection", "rescue", "api_url"),
        "rescue",
        "the LogMeIn Rescue API (" + ", ".join(sorted(RESCUE_API_HOSTS)) + ")",
        _CREDENTIALS,
    ),
    _Setting(("integration", "endpoint"), "integration", _INTEGRATION, _CALLED),
    _Setting(("profile", "integration", "instance_endpoints", "*"), "integration", _INTEGRATION, _CALLED),
    _Setting(("rescue_groups", "*", "export", "url"), "integration", _INTEGRATION, _POSTED),
    _Setting(("profile", "rescue", "export_url"), "integration", _INTEGRATION, _POSTED),
)

# `integration.org_url` is the org the integration writes sessions to. It must equal the
# connection's org (checked in ``checks.py``, and that one is checked here) unless
# `other_org_url: true`; then it is checked on its own.
_OTHER_ORG = _Setting(
    ("integration", "org_url"),
    "dataverse",
    "a Dataverse org (e.g. contoso.crm4.dynamics.com)",
    "the integration would write every session's details to that org",
)


# A `{keyvault: {vault: URL, ...}}` secret reference may sit wherever a secret does: the token the
# fleet's identity gets for the vault would be sent to that host.
_VAULT = _Setting(
    ("*", "keyvault", "vault"),
    "keyvault",
    "an Azure Key Vault (<name>." + ", <name>.".join(KEY_VAULT_SUFFIXES.values()) + ")",
    "the fleet identity's Key Vault token would be sent there",
)


def _values(value: Any, pattern: YamlPath, path: YamlPath = ()) -> Iterator[tuple[YamlPath, Any]]:
    """Each value at ``pattern`` in ``value`` with its concrete path."""
    if not pattern:
        yield path, value
        return
    key, rest = pattern[0], pattern[1:]
    if key == "*" and isinstance(value, Mapping):
        for name, item in value.items():
            yield from _values(item, rest, (*path, name))
    elif key == "*" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values(item, rest, (*path, index))
    elif isinstance(value, Mapping) and key in value:
        yield from _values(value[key], rest, (*path, key))


def host_problems(
    data: Mapping[str, Any], locate: Callable[[YamlPath], Location], allowance: HostAllowance
) -> list[Problem]:
    """A located problem for each service URL whose host is neither known nor allowed."""
    integration = data.get("integration")
    other_org = isinstance(integration, Mapping) and integration.get("other_org_url") is True
    settings = (*_SETTINGS, _OTHER_ORG) if other_org else _SETTINGS
    problems: list[Problem] = []
    for setting in settings:
        for path, url in _values(data, setting.pattern):
            problem = _host_problem(setting, path, url, locate, allowance)
            if problem is not None:
                problems.append(problem)
    for path, ref in vault_references(data):
        problem = _host_problem(_VAULT, (*path, "vault"), ref.get("vault"), locate, allowance)
        if problem is not None:
            problems.append(problem)
    return problems


def _host_problem(
    setting: _Setting,
    path: YamlPath,
    url: Any,
    locate: Callable[[YamlPath], Location],
    allowance: HostAllowance,
) -> Problem | None:
    if not isinstance(url, str):
        return None  # missing (the default is a known host) or not text (the model says so)
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None  # an invalid URL is reported by the model validation
    if not host or allowance.allows(host, port):
        return None
    if port in (None, 443) and _known(setting.service, host):
        return None
    shown = host if port is None else f"{host}:{port}"
    return Problem(
        locate(path),
        dotted(path),
        f"{excerpt(shown)} is not {setting.what}; {setting.exposes}. "
        f"An operator can allow it outside the tenant files: --allow-host {excerpt(shown)} "
        f"or {ALLOW_HOSTS_ENV}",
    )


__all__ = [
    "ALLOW_HOSTS_ENV",
    "DATAVERSE_ORG_DOMAINS",
    "ENTRA_AUTHORITY_HOSTS",
    "INTEGRATION_HOSTS",
    "KEY_VAULT_SUFFIXES",
    "NO_ALLOWANCE",
    "RESCUE_API_HOSTS",
    "HostAllowance",
    "host_problems",
    "key_vault_resource",
]
