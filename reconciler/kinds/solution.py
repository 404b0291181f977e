"""The LogMeIn Rescue solution: installed, managed, at least a version (DESIGN §1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.config.models import Tenant
from reconciler.config.types import version_tuple
from reconciler.kinds.base import Comparison, DesiredContext, ExportContext, ResourceKind
from reconciler.kinds.needs import TenantNeeds
from reconciler.kinds.yaml_text import scalar
from reconciler.plan import Action, Manual
from reconciler.profile import SolutionProfile
from reconciler.resources import Kind, Resource, register


@register
@dataclass(frozen=True, slots=True)
class Solution(Resource):
    """Desired: installed, managed, version at least ``version``. Live: what is installed."""

    kind: ClassVar[Kind] = "solution"
    key_fields: ClassVar[tuple[str, ...]] = ("unique_name",)
    unique_name: str
    version: str | None = None
    managed: bool | None = None
    package: str | None = field(default=None, compare=False)


class SolutionKind(ResourceKind):
    type = Solution
    title = "solution"
    # Every Dataverse kind lives in the solution's tables: nothing can be written before it is in.
    prerequisite = True
    section = "solution"
    not_compared: ClassVar[dict[str, str]] = {
        "package": "desired-only: the zip apply imports when the solution is missing or older",
    }
    manual_steps = True

    def desired(self, tenant: Tenant, context: DesiredContext) -> list[Resource]:
        if tenant.solution is None:
            return []
        return [
            Solution(
                unique_name=tenant.solution.unique_name or context.profile.solution.unique_name,
                version=tenant.solution.min_version,
                managed=True,
                package=tenant.solution.package,
            )
        ]

    def plan(
        self, want: Resource, have: Resource | None, deps: tuple[str, ...], comparison: Comparison
    ) -> None:
        """The version is a minimum, not an equality; a missing, unmanaged or older solution is
        imported from ``package`` when one is declared, else installed by hand."""
        assert isinstance(want, Solution)
        live = have if isinstance(have, Solution) else None
        version = want.version or "0"
        if live is not None and live.managed and version_tuple(live.version or "0") >= version_tuple(version):
            return
        if live is None:
            reason = f"solution {want.unique_name} is not installed"
        elif not live.managed:
            reason = (
                f"solution {want.unique_name} {live.version} is unmanaged; a managed solution is required"
            )
        else:
            reason = f"solution {want.unique_name} is {live.version}, older than {version}"
        if want.package and (live is None or live.managed):
            steps = (
                f"import {want.package} with ImportSolution (PublishWorkflows: true)",
                f"verify {want.unique_name} is managed and at least {version}",
            )
            comparison.add(Action(self.name, want.key, (), "import_solution", want, live, reason, steps))
        else:
            comparison.add(install_step(want, reason))

    def needs(self, tenant: Tenant, profile: SolutionProfile, need: TenantNeeds) -> None:
        if tenant.solution is None:
            return
        need.table(["Read"], "Solution", "solution")
        if tenant.solution.package:
            need.privilege("prvImportCustomization", "solution import (solution.package)")
            need.table(["Read"], "AsyncOperation", "solution import (its job)")
            need.table(["Read"], "ImportJob", "solution import (its result)")

    def export(self, context: ExportContext) -> list[str]:
        solution = next((r for r in context.live.of_kind(self.name) if isinstance(r, Solution)), None)
        if solution is None or not solution.version:
            return []
        lines = ["", "solution:"]
        if solution.unique_name != context.profile.solution.unique_name:
            lines.append(f"  unique_name: {scalar(solution.unique_name)}")
        lines.append(f"  min_version: {scalar(solution.version)}   # the version installed at export time")
        if not solution.managed:
            lines.append("  # the installed solution is UNMANAGED: plan will ask for a managed one")
        return lines


def install_step(solution: Solution, reason: str) -> Manual:
    """Installing the solution by hand (no package declared, or an unmanaged copy is in the way)."""
    return Manual(
        solution.kind,
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


KIND = SolutionKind()
