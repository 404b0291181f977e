"""A minimal valid tenant model for pure tests: connection only, plus the sections a test gives."""

from __future__ import annotations

from typing import Any

from reconciler.config.models import Tenant


def tenant_model(**fields: Any) -> Tenant:
    base: dict[str, Any] = {
        "tenant": "t",
        "connection": {
            "dynamics": {
                "org_url": "https://t.crm.dynamics.com",
                "tenant_id": "11111111-2222-4333-8444-555555555555",
                "client_id": "22222222-3333-4444-8555-666666666666",
                "credential": {"client_secret": {"env": "X"}},
            },
            "rescue": {"authcode": {"env": "Y"}},
        },
    }
    return Tenant.model_validate(base | fields)
