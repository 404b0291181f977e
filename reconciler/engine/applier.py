"""Apply a plan: changes in dependency order, independent ones concurrently, each handed to the
provider that writes its kind (``providers/contract.py``; Dynamics sends settings rows in
``$batch`` requests). A failed change skips its dependants; everything else goes on.

Order comes from each change's ``depends_on`` (solution before what lives in it, Rescue groups
before technicians, Rescue technicians before the settings rows that point at them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import ChainMap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.config import LoadedTenant, secret_refs
from reconciler.diff.rules import group_pins
from reconciler.engine.connection import SandboxInfo
from reconciler.engine.planner import RunOptions
from reconciler.engine.session import TenantSession
from reconciler.engine.vault import open_connection
from reconciler.errors import ChangeFailed, ProviderError, ReconcileError
from reconciler.plan import ApplyResult, Change, Outcome, TenantApplyResult, TenantPlan
from reconciler.profile import effective_profile
from reconciler.providers.contract import Provider
from reconciler.providers.dynamics.provider import DynamicsProvider
from reconciler.providers.dynamics.writer import DynamicsWriter
from reconciler.providers.http import RequestStats
from reconciler.providers.loop import run as run_loop
from reconciler.providers.rescue.provider import RescueProvider
from reconciler.providers.rescue.writer import RescueWriter

log = logging.getLogger(__name__)

Progress = Callable[[str, Outcome], None]


@dataclass(frozen=True)
class ApplyOptions:
    poll_interval: float = 2.0
    # How long a solution import may take, waiting for one already running included (Dataverse
    # runs one at a time); past it the change is Unknown (exit 3), never failed.
    import_wait_seconds: float = 3600.0
    progress: Progress | None = None


class _TenantApply:
    def __init__(
        self, loaded: LoadedTenant, plan: TenantPlan, session: TenantSession, options: ApplyOptions
    ) -> None:
        self.loaded = loaded
        self.plan = plan
        self.options = options
        profile = effective_profile(loaded.model.profile)
        resolver = session.conn.resolver(loaded)
        refs = {ref.ref: ref for _, ref in secret_refs(loaded.model)}

        def resolve(ref: str) -> str:
            if ref not in refs:
                raise ChangeFailed(f"secret reference {ref} is not in the tenant files any more")
            return resolver.resolve(refs[ref]).get_secret_value()

        session_key = loaded.model.session_key
        dynamics = DynamicsWriter(
            session.dataverse,
            profile,
            tenant_folder=loaded.folder,
            resolve_secret=resolve,
            poll_interval=options.poll_interval,
            import_wait_seconds=options.import_wait_seconds,
            session_key_wait=session_key.wait_seconds if session_key else 600,
        )
        self.providers: tuple[Provider, ...] = (
            DynamicsProvider(dynamics),
            RescueProvider(RescueWriter(session.rescue, group_pins(loaded.model))),
        )
        self.outcomes: dict[str, Outcome] = {}

    def record(self, outcome: Outcome) -> None:
        self.outcomes[outcome.change_id] = outcome
        if self.options.progress is not None:
            self.options.progress(self.plan.tenant, outcome)

    async def run(self) -> None:
        remaining = list(self.plan.actionable)
        planned = {c.id for c in remaining}
        while remaining:
            ready: list[Change] = []
            waiting: list[Change] = []
            for change in remaining:
                deps = [d for d in change.depends_on if d in planned]
                bad = [d for d in deps if d in self.outcomes and self.outcomes[d].status != "done"]
                if bad:
                    self.record(
                        Outcome(change.id, "skipped", f"depends on {', '.join(bad)}, which did not succeed")
                    )
                elif all(d in self.outcomes for d in deps):
                    ready.append(change)
                else:
                    waiting.append(change)
            if not ready:
                for change in waiting:
                    self.record(Outcome(change.id, "skipped", "its dependencies never became ready"))
                return
            await self.wave(ready)
            remaining = waiting

    async def wave(self, ready: Sequence[Change]) -> None:
        """Each provider applies its share of the ready changes; the providers run concurrently."""
        created = ChainMap(*(p.created_ids() for p in self.providers))  # live: IDs created so far
        groups = [(p, [c for c in ready if c.kind in p.kinds]) for p in self.providers]
        for change in ready:
            if not any(change.kind in p.kinds for p in self.providers):
                self.record(Outcome(change.id, "failed", f"no provider applies {change.kind}"))
        results = await asyncio.gather(*(p.apply_many(cs, created) for p, cs in groups if cs))
        for outcomes in results:
            for outcome in outcomes:
                self.record(outcome)


async def apply_tenant(
    loaded: LoadedTenant,
    plan: TenantPlan,
    sandbox: SandboxInfo | None,
    run: RunOptions,
    options: ApplyOptions,
) -> TenantApplyResult:
    manual = plan.manual
    if plan.error:
        return TenantApplyResult(plan.tenant, manual=manual, error=plan.error)
    if not plan.actionable:
        return TenantApplyResult(plan.tenant, manual=manual)
    stats = RequestStats()
    try:
        conn = await open_connection(loaded, sandbox, run.vault, run.settings, stats)
        async with TenantSession(conn, run.settings, stats) as session:
            job = _TenantApply(loaded, plan, session, options)
            try:
                await job.run()
            except ProviderError as exc:  # e.g. credentials refused half-way: the rest is skipped
                for change in plan.actionable:
                    if change.id not in job.outcomes:
                        job.record(Outcome(change.id, "skipped", f"not attempted: {exc.message}"))
    except ReconcileError as exc:
        return TenantApplyResult(plan.tenant, manual=manual, error=exc.message, requests=stats.as_dict())
    ordered = tuple(job.outcomes[c.id] for c in plan.actionable if c.id in job.outcomes)
    return TenantApplyResult(plan.tenant, outcomes=ordered, manual=manual, requests=stats.as_dict())


async def apply_all(
    pairs: Sequence[tuple[LoadedTenant, TenantPlan]], run: RunOptions, options: ApplyOptions
) -> ApplyResult:
    bound = asyncio.Semaphore(max(1, run.tenant_concurrency))

    async def one(loaded: LoadedTenant, plan: TenantPlan) -> TenantApplyResult:
        async with bound:
            return await apply_tenant(loaded, plan, run.sandbox, run, options)

    results = await asyncio.gather(*(one(loaded, plan) for loaded, plan in pairs))
    return ApplyResult(tenants=tuple(results))


def run_apply(
    pairs: Sequence[tuple[LoadedTenant, TenantPlan]], run: RunOptions, options: ApplyOptions
) -> ApplyResult:
    return run_loop(apply_all(pairs, run, options))
