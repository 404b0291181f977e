"""The ``integration`` kind in Dynamics: the configuration window's singleton row.

Its columns are the ``integration`` lines of the column table (``profile/columns.py``), mapped
generically (``mapping.py``): a new option is a line there and a field on the resource, nothing
here. The SSO password is read only as a keyed digest and written from its secret reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from reconciler.errors import PreconditionFailed
from reconciler.kinds.integration import IntegrationConfig
from reconciler.plan import Change, Create, Update
from reconciler.profile import SolutionProfile
from reconciler.providers.contract import WritesEach
from reconciler.providers.dynamics.client import DataverseClient
from reconciler.providers.dynamics.mapping import etag, mapped_columns, read_values, write_values
from reconciler.providers.dynamics.reading import DynamicsLive, DynamicsQuery, ReadContext
from reconciler.providers.dynamics.writer import DynamicsWriter, stable_id
from reconciler.resources import Kind, LiveMeta, SecretHasher, Sensitive, Unknown

SECTION = "integration"
# The row's logical fields, in column order: the resource fields the column table maps.
INTEGRATION_FIELDS = tuple(c.role for c in mapped_columns(SECTION))
_SECRETS = tuple(c.role for c in mapped_columns(SECTION) if c.value == "secret")


def integration_select(profile: SolutionProfile) -> list[str]:
    cols = profile.integration.columns
    return [profile.integration.id_column, *(cols[f] for f in INTEGRATION_FIELDS)]


def integration_from_row(
    row: Mapping[str, Any], profile: SolutionProfile, hasher: SecretHasher
) -> IntegrationConfig:
    """The configuration row as a resource; the SSO password only as a keyed digest."""
    return IntegrationConfig(
        **read_values(row, profile, SECTION, hasher),
        meta=LiveMeta(id=str(row.get(profile.integration.id_column, "")), etag=etag(row)),
    )


def integration_to_row(
    fields: Mapping[str, Any], profile: SolutionProfile, *, secrets: Mapping[str, str | None]
) -> dict[str, Any]:
    """Columns to write for the given logical fields (None = leave alone); ``secrets`` holds
    the resolved secrets by field, passed separately so they never sit in a resource."""
    return write_values(fields, profile, SECTION, secrets=secrets)


async def read_integration(
    client: DataverseClient, profile: SolutionProfile, hasher: SecretHasher
) -> tuple[IntegrationConfig | None, list[str]]:
    """The configuration row, or None when there is none; with the IDs of every row read (more
    than one: nobody can tell which the integration uses, so none is chosen)."""
    prof = profile.integration
    rows = await client.list_all(prof.entity_set, select=integration_select(profile))
    ids = sorted(str(r.get(prof.id_column)) for r in rows)
    if len(rows) != 1:
        return None, ids
    return integration_from_row(rows[0], profile, hasher), ids


class IntegrationRead:
    kind: ClassVar[Kind] = IntegrationConfig.kind

    @staticmethod
    def wanted(query: DynamicsQuery) -> bool:
        return query.integration

    @staticmethod
    async def read(context: ReadContext, live: DynamicsLive, query: DynamicsQuery) -> None:
        config, ids = await read_integration(context.client, context.profile, context.hasher)
        if len(ids) > 1:  # never "the most recently modified": an update could land on the wrong row
            live.state.unknown.append(
                Unknown(
                    IntegrationConfig.kind,
                    IntegrationConfig().key,
                    f"{len(ids)} integration configuration rows ({', '.join(ids)}); the configuration "
                    "window holds one: delete the extra rows in Dynamics, then plan again",
                )
            )
        if config is not None:
            live.state.add(config)
        live.state.listed.add(IntegrationConfig.kind)


class IntegrationWrites(WritesEach):
    kind = "integration"

    def __init__(self, dynamics: DynamicsWriter) -> None:
        self.dynamics = dynamics

    async def apply_one(self, change: Change) -> str:
        dynamics = self.dynamics
        prof = dynamics.profile.integration
        if isinstance(change, Create):
            assert isinstance(change.desired, IntegrationConfig)
            fields = change.desired.content()
            row = integration_to_row(
                fields, dynamics.profile, secrets=self._secrets(change.desired, _SECRETS)
            )
            row_id = stable_id(dynamics.org, "integration")
            try:
                await dynamics.client.create_only(prof.entity_set, row_id, row)
            except PreconditionFailed:
                return "already created by an earlier attempt"
            return "created"
        assert isinstance(change, Update) and isinstance(change.desired, IntegrationConfig)
        names = {item.path for item in change.items}
        fields = {k: v for k, v in change.desired.content().items() if k in names and k not in _SECRETS}
        secrets = self._secrets(change.desired, [s for s in _SECRETS if s in names])
        row = integration_to_row(fields, dynamics.profile, secrets=secrets)
        await dynamics.client.update(
            prof.entity_set, change.live.meta.id, row, etag=change.live.meta.etag or None
        )
        return f"updated {', '.join(sorted(names))}"

    def _secrets(self, desired: IntegrationConfig, names: Iterable[str]) -> dict[str, str | None]:
        """The resolved secret of each named field (None: no reference to resolve)."""
        out: dict[str, str | None] = {}
        for name in names:
            secret = getattr(desired, name)
            assert secret is None or isinstance(secret, Sensitive)
            out[name] = (
                self.dynamics.resolve_secret(secret.ref) if secret is not None and secret.ref else None
            )
        return out
