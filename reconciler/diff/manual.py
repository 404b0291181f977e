"""Manual steps: what only a person can do, with exact instructions (pure text builders)."""

from __future__ import annotations

from reconciler.plan import Manual
from reconciler.resources import Consent, RescueGroup, Solution


def export_step(group: RescueGroup, *, created: bool) -> Manual:
    """The Admin Center steps for a group's Post-to-URL export (no Rescue API exists for it)."""
    export = group.export
    assert export is not None
    when = [
        w
        for w, on in (
            ("at session start", export.at_session_start),
            ("at session end", export.at_session_end),
        )
        if on
    ]
    fmt = "XML" if export.format == "xml" else "HTTP form post"
    reason = (
        "the group is created by this plan; its export settings can only be set by hand"
        if created
        else "the Rescue API cannot read or write export settings; not yet confirmed in the tenant file"
    )
    steps = (
        "Sign in to the LogMeIn Rescue Admin Center as a Master Administrator.",
        f"In the Organization Tree, select the technician group '{group.path}' and open the Settings tab.",
        "Under 'Exporting session data', enable 'Post session details to URL'.",
        f"Set the URL to {export.url}",
        f"Post {' and '.join(when) if when else 'at neither session start nor end'}, as {fmt}.",
        "Click Save Changes (use 'Apply to all subgroups' only if every subgroup should post too).",
        f"Record it in the tenant file: under the group '{group.path}', add `confirmed: YYYY-MM-DD` (today's date).",
    )
    return Manual(
        "rescue_group",
        group.key,
        (f"rescue_group:{group.key}",) if created else (),
        title=f"Set 'Post session details to URL' for Rescue group {group.path}",
        reason=reason,
        steps=steps,
    )


def consent_step(consent: Consent, entra_tenant_id: str) -> Manual:
    url = f"https://login.microsoftonline.com/{entra_tenant_id}/adminconsent?client_id={consent.app_id}"
    return Manual(
        "consent",
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


def solution_step(solution: Solution, reason: str) -> Manual:
    return Manual(
        "solution",
        solution.key,
        (),
        title=f"Install the LogMeIn Rescue solution ({solution.unique_name} >= {solution.version})",
        reason=reason,
        steps=(
            "Open the Power Platform admin center -> Environments -> the org -> Resources -> Dynamics 365 apps,"
            " or AppSource, and install 'LogMeIn Rescue' (a managed solution).",
            "An unmanaged copy must be removed first (Settings -> Solutions).",
            "Or set `solution.package` in the tenant file to the managed solution zip and let "
            "reconcile apply import it.",
        ),
    )
