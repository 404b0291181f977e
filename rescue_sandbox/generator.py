"""Generate a large seed and the matching ``tenants/`` tree, for scale tests and benchmarks.

``generate(out, tenants=100, technicians=1000, drift=0.05)`` writes ``out/seed.yaml`` (in JSON
form, which is valid YAML; load it with ``reconcile sandbox serve --seed out/seed.yaml``) and ``out/tenants/<name>/tenant.yaml`` plus
``out/tenants/_defaults.yaml`` in the layout of the example tenants. Secrets are ``{env: ...}``
references whose sandbox values the seed's ``secrets`` map provides.

Drift: each technician drifts with probability ``drift`` in one of four ways (no settings row,
another SSO ID in Rescue, another SSO ID in Dynamics, another technician id in Dynamics), and
each integration option is flipped with probability ``drift``. The output depends only on the
arguments (``rng_seed`` seeds the random source), and :func:`generate` returns what it injected.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from rescue_sandbox.dataverse.solution_schema import INTEGRATION_OPTIONS, default_schema
from rescue_sandbox.errors import InputError
from rescue_sandbox.files import write_text

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_DRIFTS = ("missing_row", "rescue_sso_id", "dynamics_sso_id", "technician_id")
_GROUP_SIZE = 250
_DEFAULTS = {
    "application_user": {
        "first_name": "LogMeIn",
        "last_name": "Integration",
        "roles": ["LogMeIn Integration User"],
    },
    "session_key": {"status": "active"},
    "safety": {"max_change_fraction": 0.3, "min_objects": 10},
}


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _dump(data: Any, path: Path, header: str = "") -> None:
    text = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=120)
    write_text(path, header + text)


def _tenant(
    index: int, technicians: int, drift: float, rng: random.Random, drifted: Counter[str]
) -> tuple[str, Any, Any]:
    name = f"tenant{index:03d}"
    schema = default_schema()
    env = name.upper()
    tenant_id, client_id = _guid(rng), _guid(rng)
    org_url = f"https://{name}.crm.dynamics.com"
    company_id = str(3_000_000 + index)
    sso_password = f"{name}-sso-{rng.getrandbits(48):012x}"
    options = {opt: rng.random() < 0.5 for opt in INTEGRATION_OPTIONS}
    live_options = dict(options)
    for opt in INTEGRATION_OPTIONS:
        if rng.random() < drift:
            live_options[opt] = not live_options[opt]
            drifted["option"] += 1
    groups = max(1, -(-technicians // _GROUP_SIZE))
    group_paths = [f"Support/Team {g + 1:02d}" for g in range(groups)]
    export = {
        "url": schema.export_url,
        "at_session_start": False,
        "at_session_end": True,
        "format": "form",
    }
    users, settings, desired = [], [], []
    rescue_groups: list[dict[str, Any]] = [
        {"name": path.split("/")[1], "export": dict(export), "technicians": []} for path in group_paths
    ]
    base_node = 100_000 + index * 10_000
    for t in range(technicians):
        upn = f"tech{t + 1:05d}@{name}.example.com"
        first, last = f"Tech{t + 1:05d}", name.title()
        sso_id, node_id = f"{name}-t{t + 1:05d}", base_node + t + 1
        users.append({"domainname": upn, "firstname": first, "lastname": last, "internalemailaddress": upn})
        desired.append({"user": upn, "sso_id": sso_id})
        kind = rng.choice(_DRIFTS) if rng.random() < drift else None
        if kind:
            drifted[kind] += 1
        rescue_sso = f"{sso_id}-old" if kind == "rescue_sso_id" else sso_id
        rescue_groups[t // _GROUP_SIZE]["technicians"].append(
            {"node_id": node_id, "name": f"{first} {last}", "email": upn, "ssoid": rescue_sso}
        )
        if kind != "missing_row":
            settings.append(
                {
                    "user": upn,
                    "technician_id": str(node_id + 7 if kind == "technician_id" else node_id),
                    "sso_id": f"{sso_id}-typo" if kind == "dynamics_sso_id" else sso_id,
                }
            )
    seed = {
        "secrets": {
            f"env:{env}_DYNAMICS_CLIENT_SECRET": {"from": "identity.client_secret"},
            f"env:{env}_RESCUE_AUTHCODE": {"from": "rescue.authcode"},
            f"env:{env}_RESCUE_SSO_PASSWORD": sso_password,
        },
        "identity": {"tenant_id": tenant_id, "client_id": client_id},
        "dataverse": {
            "org_url": org_url,
            "business_units": [{"name": name}],
            "roles": [schema.app_role, "System Administrator"],
            "users": users,
            "solutions": [{"uniquename": schema.unique_name, "version": "2.1.0.0", "ismanaged": True}],
            "integration": {
                "instance": "production",
                "endpoint": schema.integration.instance_endpoints["production"],
                "company_id": company_id,
                "sso_password": sso_password,
                "org_url": org_url,
                "office365_tenant_id": tenant_id,
                "options": live_options,
            },
            "settings": settings,
            "application_user": {
                "app_id": schema.app_id,
                "firstname": "LogMeIn",
                "lastname": "Integration",
                "email": f"logmein-integration@{name}.example.com",
                "business_unit": name,
                "roles": [schema.app_role],
            },
            "session_key": {"status": "Active"},
        },
        "rescue": {
            "company_id": company_id,
            "company_name": name.title(),
            "sso_password": sso_password,
            "technicians_root": "Technicians",
            "groups": [{"name": "Support", "children": rescue_groups}],
        },
    }
    tenant_file = {
        "tenant": name,
        "connection": {
            "dynamics": {
                "org_url": org_url,
                "tenant_id": tenant_id,
                "client_id": client_id,
                "credential": {"client_secret": {"env": f"{env}_DYNAMICS_CLIENT_SECRET"}},
            },
            "rescue": {
                "api_url": "https://secure.logmeinrescue.com/API",
                "authcode": {"env": f"{env}_RESCUE_AUTHCODE"},
            },
        },
        "solution": {"min_version": "2.1.0.0"},
        "integration": {
            "instance": "production",
            "company_id": company_id,
            "sso_password": {"env": f"{env}_RESCUE_SSO_PASSWORD"},
            "org_url": org_url,
            "office365_tenant_id": tenant_id,
            "options": options,
        },
        "application_user": {"email": f"logmein-integration@{name}.example.com"},
        "technicians": desired,
        "rescue_groups": [{"path": path, "export": dict(export)} for path in group_paths],
    }
    return name, seed, tenant_file


def generate(
    out_dir: Path, tenants: int, technicians: int, drift: float = 0.0, rng_seed: int = 0
) -> dict[str, Any]:
    """Write ``seed.yaml`` and ``tenants/``; returns counts of the drift injected, per kind."""
    if tenants < 1 or technicians < 0:
        raise InputError("seed generator: --tenants must be >= 1 and --technicians >= 0")
    if not 0.0 <= drift <= 1.0:
        raise InputError("seed generator: --drift must be between 0 and 1")
    if tenants > 9999:
        raise InputError("seed generator: at most 9,999 tenants")
    rng = random.Random(rng_seed)
    drifted: Counter[str] = Counter()
    seed: dict[str, Any] = {"tenants": {}}
    header = "# Generated by `reconcile sandbox seed`; the sandbox values of its secrets are in seed.yaml.\n"
    for index in range(1, tenants + 1):
        name, tenant_seed, tenant_file = _tenant(index, technicians, drift, rng, drifted)
        seed["tenants"][name] = tenant_seed
        _dump(tenant_file, out_dir / "tenants" / name / "tenant.yaml", header)
    _dump(_DEFAULTS, out_dir / "tenants" / "_defaults.yaml", "# Merged under every tenant in this folder.\n")
    seed["description"] = (
        f"Generated by `reconcile sandbox seed`: {tenants} tenants x {technicians} technicians, "
        f"drift {drift}, rng seed {rng_seed}."
    )
    # JSON is YAML too, and loads an order of magnitude faster than block YAML at this size.
    write_text(out_dir / "seed.yaml", json.dumps(seed, separators=(",", ":")))
    return {"tenants": tenants, "technicians": technicians, "drift": dict(sorted(drifted.items()))}
