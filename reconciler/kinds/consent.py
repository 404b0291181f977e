"""Admin consent for the LogMeIn app: its service principal exists in the Entra tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from reconciler.config.models import DEFAULT_APP_ID, Tenant
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.needs import SERVICE_PRINCIPALS_PERMISSION, TenantNeeds
from reconciler.plan import Manual
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, register


@register
@dataclass(frozen=True, slots=True)
class Consent(Resource):
    """Admin consent for the LogMeIn app: its service principal exists in the tenant."""

    kind: ClassVar[Kind] = "consent"
    key_fields: ClassVar[tuple[str, ...]] = ("app_id",)
    app_id: str
    granted: bool | None = None


class ConsentKind(ResourceKind):
    type = Consent
    title = "admin consent"
    section = "consent"
    not_compared: ClassVar[dict[str, str]] = {}
    manual_steps = True

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        if tenant.consent is None or not tenant.consent.check:
            return []
        return [Consent(app_id=tenant.consent.app_id, granted=True)]

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """Only a Global Administrator can grant consent: never written, a manual step."""
        assert isinstance(want, Consent)
        if not (isinstance(have, Consent) and have.granted):
            comparison.add(consent_step(want, comparison.entra_tenant_id))

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        if consent_app_ids(tenant):
            need.graph_permission(
                SERVICE_PRINCIPALS_PERMISSION, "consent (the LogMeIn app's service principal)"
            )

    def export(self, context: ExportContext) -> list[str]:
        granted = next((r for r in context.live.of_kind(self.name) if isinstance(r, Consent)), None)
        if granted is None or not granted.granted:
            return []
        return ["", "consent:", "  check: true"]


def consent_app_ids(tenant: Tenant) -> tuple[str, ...]:
    """The apps whose admin consent ``doctor`` checks: by default (the integration cannot work
    without it, and ``health`` reports it missing as blocking every session) the declared
    consent's app and the app of the LogMeIn application user, which ``health`` checks; none
    when the tenant opts out with ``consent: {check: false}``."""
    if tenant.consent is not None and not tenant.consent.check:
        return ()
    user_app = tenant.application_user.app_id if tenant.application_user else DEFAULT_APP_ID
    declared = tenant.consent.app_id if tenant.consent is not None else user_app
    return tuple(dict.fromkeys(a.lower() for a in (declared, user_app)))


def consent_step(consent: Consent, entra_tenant_id: str) -> Manual:
    url = f"https://login.microsoftonline.com/{entra_tenant_id}/adminconsent?client_id={consent.app_id}"
    return Manual(
        consent.kind,
        consent.key,
        (),
        title="Grant admin consent to the LogMeIn Rescue app",
        reason=f"no service principal for app {consent.app_id} in the Entra tenant",
        steps=(
            f"As a Global Administrator of the tenant, open {url}",
            "Review the permissions and click Accept.",
            "Run reconcile plan again: the consent check then passes.",
        ),
    )


KIND = ConsentKind()
