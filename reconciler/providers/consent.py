"""The ``consent`` kind on the Graph side: admin consent for the LogMeIn app is granted when its
service principal exists in the tenant. Only read: a missing consent is a manual step (the
admin-consent URL), never a write."""

from __future__ import annotations

from reconciler.errors import ProviderError
from reconciler.kinds.consent import Consent
from reconciler.providers.graph import GraphClient
from reconciler.resources import LiveState, Unknown


async def read_consent(graph: GraphClient, app_id: str) -> LiveState:
    """The consent of ``app_id`` as live state; a failed lookup makes it Unknown, never "not granted"."""
    state = LiveState()
    try:
        found = await graph.find_service_principal(app_id)
    except ProviderError as exc:
        state.unknown.append(Unknown("consent", app_id, f"service principal lookup failed: {exc.message}"))
        return state
    state.add(Consent(app_id=app_id, granted=found is not None))
    state.listed.add("consent")
    return state
